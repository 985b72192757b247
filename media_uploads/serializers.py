from rest_framework import serializers

from media_uploads.models import ServiceOrderImage
from media_uploads.services import signed_url


class ServiceOrderImageSerializer(serializers.ModelSerializer):
    """A photo of an order, with links to download it that are signed afresh for each answer."""

    order_id = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField(help_text="Presigned GET URL of the original, valid for a limited time.")
    thumbnail_url = serializers.SerializerMethodField(help_text="Presigned GET URL of a JPEG thumbnail.")

    class Meta:
        model = ServiceOrderImage
        fields = [
            "id",
            "order_id",
            "url",
            "thumbnail_url",
            "original_name",
            "content_type",
            "size_bytes",
            "width",
            "height",
            "date_created",
        ]
        read_only_fields = fields

    def get_url(self, image) -> str:
        return signed_url(image.image)

    def get_thumbnail_url(self, image) -> str | None:
        return signed_url(image.thumbnail)


class ImageUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="JPEG, PNG or WebP; checked by content.")

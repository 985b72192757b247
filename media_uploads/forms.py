"""The admin's upload form: the same content checks as the API, done by :mod:`media_uploads.services`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from maintenance.api.errors import BusinessError
from media_uploads import services
from media_uploads.models import ServiceOrderImage


class ImageUploadAdminForm(forms.ModelForm):
    file = forms.FileField(
        label=_("Image"),
        help_text=_("JPEG, PNG or WebP, checked by its content (not by its name or type)."),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    class Meta:
        model = ServiceOrderImage
        fields = ["order"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        self.image_data = validated_image_bytes(upload)
        return upload


def validated_image_bytes(upload) -> bytes:
    """The bytes of an uploaded image, checked by the same rules as the API (size, content)."""
    try:
        services.check_upload_size(upload.size)
        upload.seek(0)  # the admin may validate the same POST twice
        data = upload.read()
        services.inspect_image(data)
    except BusinessError as error:
        raise forms.ValidationError(error.message, code=error.code)
    return data

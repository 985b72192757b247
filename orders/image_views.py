"""An order's photos in the API: ``/api/v1/orders/{id}/image(s)/…``."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from maintenance.api.schema import RequestTooLargeErrorSerializer, error_response
from maintenance.http.resilience import MULTIPART_OVERHEAD
from media_uploads import services as media
from media_uploads.models import ServiceOrderImage
from media_uploads.serializers import ImageUploadSerializer, ServiceOrderImageSerializer
from orders import services

# The routes' patterns (\d{1,18}) would be documented as strings; the ids are integers.
ORDER_ID = OpenApiParameter("order_id", int, OpenApiParameter.PATH, description="The order's `id`.")
IMAGE_ID = OpenApiParameter("image_id", int, OpenApiParameter.PATH, description="The image's `id`.")


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@extend_schema(parameters=[ORDER_ID])
class OrderImagesView(GenericAPIView):
    """List an order's images, or upload one (multipart field ``file``)."""

    queryset = ServiceOrderImage.objects.all()
    serializer_class = ServiceOrderImageSerializer
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = None
    filter_backends = []

    @extend_schema(summary="List an order's images", responses={200: ServiceOrderImageSerializer(many=True)})
    def get(self, request, order_id: int):
        services.existing_order(order_id)
        images = ServiceOrderImage.objects.filter(order_id=order_id).order_by("id")
        return Response(ServiceOrderImageSerializer(images, many=True).data)

    @extend_schema(
        summary="Upload a photo of an order",
        request={"multipart/form-data": ImageUploadSerializer},
        responses={
            201: ServiceOrderImageSerializer,
            409: error_response(
                409, "The order is completed or cancelled: its photos can no longer change (`order_final`)."
            ),
            413: OpenApiResponse(
                RequestTooLargeErrorSerializer, "The file (or the request) is larger than the limit (`limit_bytes`)."
            ),
            503: error_response(503, "The object store is unavailable; nothing was saved, retry."),
        },
    )
    def post(self, request, order_id: int):
        # Refuse an oversized body before reading it.
        media.check_upload_size(max(_content_length(request) - MULTIPART_OVERHEAD, 0))
        services.existing_order(order_id)
        serializer = ImageUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        media.check_upload_size(upload.size)
        image = services.upload_order_image(
            order_id, data=upload.read(), original_name=upload.name, uploaded_by=request.user
        )
        return Response(ServiceOrderImageSerializer(image).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[ORDER_ID, IMAGE_ID])
class OrderImageDetailView(GenericAPIView):
    queryset = ServiceOrderImage.objects.all()
    serializer_class = ServiceOrderImageSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(summary="Get one image of an order")
    def get(self, request, order_id: int, image_id: int):
        return Response(ServiceOrderImageSerializer(services.get_order_image(order_id, image_id)).data)

    @extend_schema(
        summary="Delete an image (its objects are removed from storage)",
        responses={
            204: None,
            409: error_response(
                409, "The order is completed or cancelled: its photos can no longer change (`order_final`)."
            ),
        },
    )
    def delete(self, request, order_id: int, image_id: int):
        services.delete_order_image(order_id, image_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

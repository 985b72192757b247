"""Order photos: validated by content, stored under generated keys, never orphaned.

The client's Content-Type header and file name are never trusted: Pillow
decides what the bytes are. Objects are uploaded first and the row written
after; if the row cannot be written the objects are deleted, and deleting a row
removes its objects once the transaction commits.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from maintenance.errors import BusinessError, InvalidInput, NotFound, StorageUnavailable
from media_uploads.models import ServiceOrderImage
from orders.models import ServiceOrder

logger = logging.getLogger(__name__)

# Detected format -> (content type, file extension)
ALLOWED_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
THUMBNAIL_SIZE = (320, 320)
STORAGE_ERRORS = (BotoCoreError, ClientError, OSError)


class ImageTooLarge(BusinessError):
    status_code = 413
    default_code = "image_too_large"


@dataclass(frozen=True)
class InspectedImage:
    data: bytes
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes


def check_upload_size(size: int | None) -> None:
    limit = settings.MAX_IMAGE_UPLOAD_BYTES
    if size is not None and size > limit:
        raise ImageTooLarge(f"The image is larger than the limit of {limit} bytes ({limit // (1024 * 1024)} MB).")


def inspect_image(data: bytes) -> InspectedImage:
    """Decide from the bytes what the image is, or refuse it."""
    check_upload_size(len(data))
    if not data:
        raise InvalidInput("The file is empty: not a valid image.", field="file", code="invalid_image")
    try:
        with warnings.catch_warnings():
            # Pillow warns past MAX_IMAGE_PIXELS and raises past twice that: refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                detected = probe.format
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                width, height = image.size
                thumbnail = ImageOps.exif_transpose(image)
                thumbnail.thumbnail(THUMBNAIL_SIZE)
                if thumbnail.mode not in ("RGB", "L"):
                    thumbnail = thumbnail.convert("RGB")
                buffer = io.BytesIO()
                thumbnail.save(buffer, format="JPEG", quality=85)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(
            f"The image has too many pixels (limit {Image.MAX_IMAGE_PIXELS}).",
            field="file",
            code="image_too_many_pixels",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput("The file is not a valid image.", field="file", code="invalid_image") from exc
    if detected not in ALLOWED_FORMATS:
        raise InvalidInput(
            f"Image format {detected} is not allowed; use JPEG, PNG or WebP.", field="file", code="invalid_image_format"
        )
    content_type, extension = ALLOWED_FORMATS[detected]
    return InspectedImage(data, detected, content_type, extension, width, height, buffer.getvalue())


def delete_stored_objects(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except STORAGE_ERRORS:
            logger.exception("could not delete object %s from storage", name)


def _store(name: str, data: bytes, content_type: str) -> str:
    content = ContentFile(data)
    content.content_type = content_type
    return default_storage.save(name, content)


def upload_order_image(order_id: int, *, data: bytes, original_name: str = "", uploaded_by=None) -> ServiceOrderImage:
    if not ServiceOrder.objects.filter(pk=order_id).exists():
        raise NotFound(f"Service order {order_id} not found.")
    image = inspect_image(data)
    stem = f"orders/{order_id}/{uuid.uuid4().hex}"
    stored: list[str] = []
    try:
        stored.append(_store(f"{stem}.{image.extension}", image.data, image.content_type))
        stored.append(_store(f"{stem}_thumb.jpg", image.thumbnail, "image/jpeg"))
    except STORAGE_ERRORS as exc:
        logger.warning("object storage failed: %s", exc)
        delete_stored_objects(stored)
        raise StorageUnavailable("The image storage (S3) is unavailable; nothing was saved. Retry later.") from exc
    try:
        with transaction.atomic():
            return ServiceOrderImage.objects.create(
                order_id=order_id,
                image=stored[0],
                thumbnail=stored[1],
                original_name=(original_name or "")[:255],
                content_type=image.content_type,
                size_bytes=len(image.data),
                width=image.width,
                height=image.height,
                uploaded_by=uploaded_by,
            )
    except BaseException:
        delete_stored_objects(stored)
        raise


def delete_order_image(order_id: int, image_id: int) -> None:
    with transaction.atomic():
        image = ServiceOrderImage.objects.filter(order_id=order_id, pk=image_id).first()
        if image is None:
            raise NotFound(f"Image {image_id} not found on order {order_id}.")
        image.delete()  # the objects go once the transaction commits (see signals)

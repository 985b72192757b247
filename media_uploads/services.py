"""Photos: validated by content, stored under generated keys, signed for reading.

The client's Content-Type header and file name are never trusted: Pillow
decides what the bytes are. This app knows an order only as a foreign key: the
rules of an order's photos (the order exists, is still open, is locked while a
row is written) are in :mod:`orders.services`, which calls these functions.
Deleting a row removes its objects once the transaction commits (signals).
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from storages.backends.s3 import S3Storage

from maintenance.api.errors import BusinessError, InvalidInput, StorageUnavailable

logger = logging.getLogger(__name__)

# Detected format -> (content type, file extension). MPO is the multi-picture
# JPEG that phone cameras write: a JPEG file that Pillow names after its extension.
ALLOWED_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
THUMBNAIL_SIZE = (320, 320)
# EXIF orientations that turn the picture a quarter: its upright width is the stored height.
QUARTER_TURNS = {5, 6, 7, 8}
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


def _human_size(size: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def check_upload_size(size: int | None) -> None:
    limit = settings.MAX_IMAGE_UPLOAD_BYTES
    if size is not None and size > limit:
        readable = _human_size(limit)
        suffix = "" if readable.endswith("bytes") else f" ({readable})"
        raise ImageTooLarge(
            _("The image is larger than the limit of %(limit)s bytes%(readable)s.")
            % {"limit": limit, "readable": suffix},
            field="file",
            extra={"limit_bytes": limit},
        )


def _not_an_image() -> InvalidInput:
    return InvalidInput(_("The file is not a valid image."), field="file", code="invalid_image")


def pixel_limit() -> int:
    """The most pixels an image may have: ``MAX_IMAGE_PIXELS``, or Pillow's process-wide limit if lower.

    Decoding costs 3-4 bytes per pixel whatever the file's size: a 300 KB PNG of
    9000 x 9000 needs 240 MB. Pillow's own limit (89 million pixels) is a guard
    against bombs, not a budget for a web worker.
    """
    return min(limit for limit in (settings.MAX_IMAGE_PIXELS, Image.MAX_IMAGE_PIXELS) if limit)


def _too_many_pixels(width: int | None = None, height: int | None = None) -> InvalidInput:
    size = f" ({width} x {height})" if width and height else ""
    return InvalidInput(
        _("The image has too many pixels%(size)s; the limit is %(limit)s pixels (MAX_IMAGE_PIXELS).")
        % {"size": size, "limit": pixel_limit()},
        field="file",
        code="image_too_many_pixels",
    )


def _flatten(image: Image.Image) -> Image.Image:
    """An RGB or L copy for JPEG: transparency goes onto white, other modes are converted."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16"):
        # 16-bit samples: scale to 8 bits rather than clip everything above 255 to white.
        image = image.convert("I").point(lambda value: value / 256)
    return image.convert("RGB")


def _make_thumbnail(image: Image.Image) -> bytes:
    """A JPEG of at most THUMBNAIL_SIZE, turned upright as the EXIF orientation says.

    Reduced first, turned after: ``thumbnail`` decodes a JPEG at an eighth of its
    size where it can (``draft``), and turning the small copy costs nothing, where
    turning first copied the full-size pixels once more.
    """
    image.thumbnail(THUMBNAIL_SIZE)
    thumbnail = ImageOps.exif_transpose(image)
    buffer = io.BytesIO()
    _flatten(thumbnail).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def inspect_image(data: bytes) -> InspectedImage:
    """Decide from the bytes what the image is, or refuse it.

    The format and the pixel count are checked from the header, before any
    pixel is decoded; then Pillow verifies the file and decodes all of its data
    (a truncated or corrupt file fails here) to make the thumbnail. Width and
    height are the picture's as shown, upright (EXIF orientation applied).
    """
    check_upload_size(len(data))
    if not data:
        raise InvalidInput(_("The file is empty: not a valid image."), field="file", code="invalid_image")
    try:
        # Pillow raises DecompressionBombError past twice MAX_IMAGE_PIXELS and only
        # warns between one and two times; the explicit check below refuses both
        # without touching the process-wide warnings filters.
        with Image.open(io.BytesIO(data)) as probe:
            detected = probe.format
            width, height = probe.size
            if detected not in ALLOWED_FORMATS:
                raise InvalidInput(
                    _("Image format %(format)s is not allowed; use JPEG, PNG or WebP.") % {"format": detected},
                    field="file",
                    code="invalid_image_format",
                )
            if width * height > pixel_limit():
                raise _too_many_pixels(width, height)
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if image.getexif().get(ExifTags.Base.Orientation) in QUARTER_TURNS:
                width, height = height, width
            thumbnail = _make_thumbnail(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _not_an_image() from exc
    content_type, extension = ALLOWED_FORMATS[detected]
    return InspectedImage(data, detected, content_type, extension, width, height, thumbnail)


def signed_url(file) -> str | None:
    """A fresh presigned GET link to a stored file, valid for ``IMAGE_URL_TTL_SECONDS``."""
    if not file:
        return None
    if isinstance(file.storage, S3Storage):
        return file.storage.url(file.name, expire=settings.IMAGE_URL_TTL_SECONDS)
    return file.url


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


def store_image(*, prefix: str, image: InspectedImage) -> tuple[str, str]:
    """Upload the original and its thumbnail under a new random key; the stored names.

    All or nothing: if the store fails, what was uploaded is deleted and
    ``StorageUnavailable`` is raised.
    """
    stem = f"{prefix}/{uuid.uuid4().hex}"
    stored: list[str] = []
    try:
        stored.append(_store(f"{stem}.{image.extension}", image.data, image.content_type))
        stored.append(_store(f"{stem}_thumb.jpg", image.thumbnail, "image/jpeg"))
    except STORAGE_ERRORS as exc:
        logger.warning("object storage failed: %s", exc)
        delete_stored_objects(stored)
        raise StorageUnavailable(
            _("The image storage (S3) is unavailable or refused the upload; nothing was saved. Retry later.")
        ) from exc
    original, thumbnail = stored
    return original, thumbnail

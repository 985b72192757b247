"""Photos: validated by content, stored under generated keys, signed for reading.

The client's Content-Type header and file name are never trusted: Pillow
decides what the bytes are. This app knows an order only as a foreign key: the
rules of an order's photos (the order exists, is still open, is locked while a
row is written) are in :mod:`orders.services`, which calls these functions.
Deleting a row removes its objects once the transaction commits (signals).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import uuid
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
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
# Bytes of a worker's memory that one pixel costs while an image is decoded, turned upright
# and encoded again, by format: measured peaks (orders/tests/test_image_api.py) rounded up.
DECODE_BYTES_PER_PIXEL = {"JPEG": 9, "MPO": 9, "PNG": 9, "WEBP": 20}
# The reductions libjpeg applies while it decodes (Pillow's draft): 1, 1/2, 1/4, 1/8.
JPEG_SCALES = (1, 2, 4, 8)
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


def pixel_limit(image_format: str | None = None) -> int:
    """The most pixels a worker decodes for an image of ``image_format`` (the strictest if none).

    Decoding costs memory by the pixel whatever the file's size (a 200 KB PNG of
    7000 x 7000 took 377 MB): ``IMAGE_DECODE_BUDGET_MB`` divided by what a pixel of
    that format costs (``DECODE_BYTES_PER_PIXEL``, measured), and never more than
    ``MAX_IMAGE_PIXELS`` or Pillow's own bomb limit.
    """
    cost = DECODE_BYTES_PER_PIXEL.get(image_format, max(DECODE_BYTES_PER_PIXEL.values()))
    budget = settings.IMAGE_DECODE_BUDGET_MB * 1024 * 1024 // cost
    return min(limit for limit in (budget, settings.MAX_IMAGE_PIXELS, Image.MAX_IMAGE_PIXELS) if limit)


def _too_many_pixels(width: int | None = None, height: int | None = None, image_format: str | None = None):
    size = f" ({width} x {height})" if width and height else ""
    kind = _(" for %(format)s") % {"format": image_format} if image_format else ""
    return InvalidInput(
        _(
            "The image has too many pixels%(size)s; the limit%(kind)s is %(limit)s pixels "
            "(IMAGE_DECODE_BUDGET_MB, MAX_IMAGE_PIXELS)."
        )
        % {"size": size, "kind": kind, "limit": pixel_limit(image_format)},
        field="file",
        code="image_too_many_pixels",
    )


def _jpeg_scale(width: int, height: int) -> int | None:
    """The least of libjpeg's reductions (1, 1/2, 1/4, 1/8) that brings a JPEG within its pixel limit."""
    limit = pixel_limit("JPEG")
    for scale in JPEG_SCALES:
        if math.ceil(width / scale) * math.ceil(height / scale) <= limit:
            return scale
    return None


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
    """A JPEG of at most THUMBNAIL_SIZE (the image is reduced in place: call it last)."""
    image.thumbnail(THUMBNAIL_SIZE)
    buffer = io.BytesIO()
    _flatten(image).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _stored_format(image: Image.Image, detected: str) -> str:
    """JPEG and PNG are stored as they came; WebP as PNG when it has transparency, else as JPEG.

    Encoding WebP again costs libwebp 25-45 bytes of memory a pixel (226 MB for a 7.8 MP
    picture, on top of decoding it), more than a worker can spare; JPEG and PNG encoders
    work in small buffers.
    """
    if detected != "WEBP":
        return "JPEG" if detected == "MPO" else detected
    return "PNG" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "JPEG"


def _encode(image: Image.Image, image_format: str) -> bytes:
    """The picture alone: no EXIF (GPS, camera, orientation — the pixels are upright), no text
    chunks, no bytes appended to the file; the colour profile is kept."""
    options = {"icc_profile": image.info.get("icc_profile")}
    if image_format == "JPEG":
        flat = _flatten(image)
        if flat.mode != image.mode:  # converted (CMYK, transparency): the profile described the old samples
            options["icc_profile"] = None
        image, options["quality"] = flat, 90
    elif "transparency" in image.info:
        options["transparency"] = image.info["transparency"]
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **{key: value for key, value in options.items() if value is not None})
    return buffer.getvalue()


def inspect_image(data: bytes) -> InspectedImage:
    """Decide from the bytes what the image is, or refuse it; then rewrite it as it will be stored.

    The format and the pixel count are checked from the header, before any pixel is
    decoded, against the format's pixel limit (:func:`pixel_limit`): a JPEG above it is
    decoded at a half, a quarter or an eighth of its size (libjpeg scales while it
    decodes) and stored so; other formats are refused. Then Pillow verifies the file,
    decodes it (a truncated or corrupt file fails here), turns it upright as its EXIF
    orientation says, and encodes it again (WebP as PNG or JPEG, see :func:`_stored_format`):
    what is stored is the picture alone, without EXIF (a phone's GPS position) or anything
    appended to the file. Format, width and height are the stored picture's.
    """
    check_upload_size(len(data))
    if not data:
        raise InvalidInput(_("The file is empty: not a valid image."), field="file", code="invalid_image")
    try:
        # Pillow raises DecompressionBombError past twice its own limit and only warns
        # between one and two times; the explicit checks refuse both without touching
        # the process-wide warnings filters.
        with Image.open(io.BytesIO(data)) as probe:
            detected = probe.format
            width, height = probe.size
            if detected not in ALLOWED_FORMATS:
                raise InvalidInput(
                    _("Image format %(format)s is not allowed; use JPEG, PNG or WebP.") % {"format": detected},
                    field="file",
                    code="invalid_image_format",
                )
            scale = _jpeg_scale(width, height) if detected in ("JPEG", "MPO") else 1
            if scale is None or (scale == 1 and width * height > pixel_limit(detected)):
                raise _too_many_pixels(width, height, detected)
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            if scale > 1:
                image.draft(image.mode, (math.ceil(width / scale), math.ceil(height / scale)))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            stored_format = _stored_format(image, detected)
            stored = _encode(image, stored_format)
            width, height = image.size
            thumbnail = _make_thumbnail(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _not_an_image() from exc
    content_type, extension = ALLOWED_FORMATS[stored_format]
    return InspectedImage(stored, stored_format, content_type, extension, width, height, thumbnail)


@functools.cache
def _public_storage(endpoint_url: str, bucket_name: str, location: str) -> S3Storage:
    """The same bucket and keys, addressed at the endpoint browsers reach: for signing links only.

    A presigned URL signs its host: one signed for the app's endpoint fails from a browser that
    reaches the server by another name. Signing sends nothing to the server; the storage (and
    its boto3 client) is made once per endpoint and bucket.
    """
    options = settings.STORAGES["default"]["OPTIONS"]
    return S3Storage(**{**options, "endpoint_url": endpoint_url, "bucket_name": bucket_name, "location": location})


def signed_url(file) -> str | None:
    """A fresh presigned GET link to a stored file, valid for ``IMAGE_URL_TTL_SECONDS``,
    for the endpoint browsers reach (``AWS_S3_PUBLIC_ENDPOINT_URL``, else the app's own)."""
    if not file:
        return None
    if isinstance(file.storage, S3Storage):
        public = settings.AWS_S3_PUBLIC_ENDPOINT_URL
        storage = file.storage
        if public:
            storage = _public_storage(public, storage.bucket_name, storage.location)
        return storage.url(file.name, expire=settings.IMAGE_URL_TTL_SECONDS)
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

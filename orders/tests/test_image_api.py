"""Order images against the real S3 (SeaweedFS) of the dev services.

Nothing here mocks the storage: uploads go to the test bucket, links are
fetched with plain HTTP, and "S3 down" is a real client pointed at a closed
port. Every test that uploads removes its objects afterwards (the ``order``
fixture empties the order's key prefix).
"""

from __future__ import annotations

import io
import os
import re
import socket
import struct
import subprocess
import sys
import time
import uuid
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, OperationalError, connection, transaction
from django.test.client import encode_multipart
from django.test.utils import CaptureQueriesContext, override_settings
from PIL import Image
from storages.backends.s3 import S3Storage

from conftest import client_for, make_user
from inventory.services import create_spare_part
from media_uploads import services
from media_uploads.models import ServiceOrderImage
from orders import services as order_services
from orders.services import place_order

pytestmark = pytest.mark.django_db

MISSING_ORDER = 987_654_321_012
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# What each is stored as: the picture encoded again (a WebP without transparency as JPEG).
STORED_AS = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "WEBP": ("JPEG", "image/jpeg", "jpg"),
}


# --- helpers -----------------------------------------------------------------


def make_image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), *, noise: bool = False, **save_kwargs) -> bytes:
    """A small real image; ``noise`` makes it incompressible (a predictable size)."""
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 40, 30))
        # A second colour, so the picture is not uniform.
        image.paste((20, 90, 220), (0, 0, size[0] // 2, size[1] // 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels but whose file is a few bytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def upload(
    api, order_id: int, data: bytes, *, name: str = "photo.png", content_type: str = "image/png", route="images"
):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return api.post(f"/api/v1/orders/{order_id}/{route}/", {"file": file}, format="multipart")


def stored_names(order_id: int) -> list[str]:
    """The object names under the order's prefix, read from the bucket itself."""
    _, files = default_storage.listdir(f"orders/{order_id}/")
    return sorted(f"orders/{order_id}/{name}" for name in files)


def fetch(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def storage_with(**options) -> S3Storage:
    """A real S3 client like the default one, with some options changed."""
    return S3Storage(**{**settings.STORAGES["default"]["OPTIONS"], "location": default_storage.location, **options})


@pytest.fixture
def order(db):
    part = create_spare_part(
        name="Brake pad", sku=f"BRK-STEEL-{uuid.uuid4().hex[:6].upper()}-100", price="12.50", stock=50
    )
    order = place_order(
        request_id=uuid.uuid4().hex, items=[{"spare_part_id": part.pk, "quantity": 1}], client_name="Ada"
    ).order
    yield order
    for name in stored_names(order.pk):
        default_storage.delete(name)


@pytest.fixture
def make_order(db):
    """Orders on demand, each emptied of its objects afterwards."""
    created = []

    def factory():
        part = create_spare_part(
            name="Filter", sku=f"FLT-PAPER-{uuid.uuid4().hex[:6].upper()}-20", price="3.00", stock=50
        )
        created.append(
            place_order(request_id=uuid.uuid4().hex, items=[{"spare_part_id": part.pk, "quantity": 1}]).order
        )
        return created[-1]

    yield factory
    for order in created:
        for name in stored_names(order.pk):
            default_storage.delete(name)


# --- upload ------------------------------------------------------------------


@pytest.mark.parametrize("route", ["image", "images"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_upload_stores_the_picture_encoded_again_and_a_thumbnail(api, order, fmt, route):
    stored_format, content_type, extension = STORED_AS[fmt]
    data = make_image(fmt, (800, 600))
    # The client lies about both the name and the type: neither may matter.
    response = upload(api, order.pk, data, name="holiday.gif", content_type="text/plain", route=route)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["order_id"] == order.pk
    assert body["content_type"] == content_type
    assert (body["width"], body["height"]) == (800, 600)
    assert body["original_name"] == "holiday.gif"

    row = ServiceOrderImage.objects.get(pk=body["id"])
    match = re.fullmatch(rf"orders/{order.pk}/([0-9a-f]{{32}})\.{extension}", row.image.name)
    assert match, row.image.name
    assert row.thumbnail.name == f"orders/{order.pk}/{match.group(1)}_thumb.jpg"
    assert row.content_type == content_type
    assert stored_names(order.pk) == sorted([row.image.name, row.thumbnail.name])

    original = fetch(body["url"])
    assert original.status_code == 200
    assert original.headers["Content-Type"] == content_type
    assert body["size_bytes"] == len(original.content)
    with Image.open(io.BytesIO(original.content)) as stored, Image.open(io.BytesIO(data)) as sent:
        assert (stored.format, stored.size) == (stored_format, sent.size)
        # The same picture (lossy formats move a sample by a few levels at most).
        stored_pixel, sent_pixel = stored.convert("RGB").getpixel((10, 10)), sent.convert("RGB").getpixel((10, 10))
        assert max(abs(a - b) for a, b in zip(stored_pixel, sent_pixel, strict=True)) <= 8

    thumb = fetch(body["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == (320, 240)


def test_small_image_thumbnail_is_not_enlarged(api, order):
    response = upload(api, order.pk, make_image("PNG", (40, 30)))
    assert response.status_code == 201
    with Image.open(io.BytesIO(fetch(response.json()["thumbnail_url"]).content)) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (40, 30))


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "I;16", "1", "CMYK"])
def test_unusual_pixel_modes_get_a_thumbnail(api, order, mode):
    image = Image.new(mode, (500, 100))
    buffer = io.BytesIO()
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image.save(buffer, format=fmt)
    response = upload(api, order.pk, buffer.getvalue())
    assert response.status_code == 201, response.content
    with Image.open(io.BytesIO(fetch(response.json()["thumbnail_url"]).content)) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (320, 64))


def test_camera_mpo_jpeg_is_accepted_as_jpeg(api, order):
    """Phones write multi-picture JPEGs, which Pillow reports as MPO: they are JPEG files."""
    first, second = Image.new("RGB", (64, 48), "red"), Image.new("RGB", (64, 48), "blue")
    buffer = io.BytesIO()
    first.save(buffer, format="MPO", save_all=True, append_images=[second])
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).format == "MPO"

    response = upload(api, order.pk, data, name="IMG_0001.JPG", content_type="image/jpeg")

    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == "image/jpeg"
    assert ServiceOrderImage.objects.get().image.name.endswith(".jpg")
    with Image.open(io.BytesIO(fetch(response.json()["url"]).content)) as stored:
        assert (stored.format, getattr(stored, "n_frames", 1), stored.size) == ("JPEG", 1, (64, 48))


def test_same_bytes_twice_are_two_objects(api, order):
    data = make_image("JPEG")
    first = upload(api, order.pk, data).json()
    second = upload(api, order.pk, data).json()
    names = {row.image.name for row in ServiceOrderImage.objects.filter(pk__in=[first["id"], second["id"]])}
    assert len(names) == 2
    assert len(stored_names(order.pk)) == 4
    assert fetch(first["url"]).content == fetch(second["url"]).content


def test_exif_orientation_is_applied_to_the_stored_picture_and_the_thumbnail(api, order):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = make_image("JPEG", (640, 320), exif=exif.tobytes())

    response = upload(api, order.pk, data, name="portrait.jpg", content_type="image/jpeg")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"]) == (320, 640)
    # Both are turned: portrait pixels, and no tag left to turn them again.
    for url, size in ((body["url"], (320, 640)), (body["thumbnail_url"], (160, 320))):
        with Image.open(io.BytesIO(fetch(url).content)) as stored:
            assert stored.size == size
            assert stored.getexif().get(0x0112) in (None, 1)


def test_a_photos_gps_position_and_camera_details_are_not_stored(api, order):
    """Issue 22: the original was stored byte for byte, and every viewer could read where it was taken."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "Camera app 1.0"  # Software
    exif[0x8825] = {1: "N", 2: (40.0, 26.0, 46.0), 3: "W", 4: (79.0, 58.0, 56.0)}  # GPSInfo
    data = make_image("JPEG", (320, 240), exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.getexif().get_ifd(0x8825)  # the test's photo does carry a position

    response = upload(api, order.pk, data, name="site.jpg", content_type="image/jpeg")

    assert response.status_code == 201, response.content
    stored_bytes = fetch(response.json()["url"]).content
    with Image.open(io.BytesIO(stored_bytes)) as stored:
        assert dict(stored.getexif()) == {}
        assert not stored.getexif().get_ifd(0x8825)
    assert b"PhoneMaker" not in stored_bytes and b"Exif" not in stored_bytes


def test_bytes_appended_to_an_image_are_not_stored(api, order):
    """Issue 22: a PNG with HTML after its end was kept as uploaded."""
    payload = b"<html><script>alert(document.cookie)</script></html>"
    data = make_image("PNG", (64, 48)) + payload
    response = upload(api, order.pk, data, name="x.png", content_type="image/png")
    assert response.status_code == 201, response.content
    stored = fetch(response.json()["url"]).content
    assert payload not in stored and b"<html" not in stored
    assert response.json()["size_bytes"] == len(stored) < len(data)


# --- retries (Idempotency-Key) ---------------------------------------------------


def send_with_key(api, order_id: int, data: bytes, *, key: str, boundary: str, name: str = "photo.png", **fields):
    """A multipart upload with the boundary given, as a client that picks a new one for every send."""
    body = encode_multipart(boundary, {"file": SimpleUploadedFile(name, data, content_type="image/png"), **fields})
    return api.generic(
        "POST",
        f"/api/v1/orders/{order_id}/images/",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


# A noise PNG of about 3 MB: beyond DATA_UPLOAD_MAX_MEMORY_SIZE (request.body refuses it), within the image limit.
LARGE = (1024, 1024)


@pytest.mark.parametrize("size", [(64, 48), LARGE], ids=["small", "above-the-memory-limit"])
def test_retried_upload_with_a_new_boundary_is_replayed(api, order, size):
    data = make_image("PNG", size, noise=True)
    assert len(data) <= settings.MAX_IMAGE_UPLOAD_BYTES
    assert (len(data) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE) == (size == LARGE)

    first = send_with_key(api, order.pk, data, key="photo-1", boundary="first-send-3f9a")
    retry = send_with_key(api, order.pk, data, key="photo-1", boundary="second-send-77c2")

    assert first.status_code == retry.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    row = ServiceOrderImage.objects.get(order=order)
    assert row.size_bytes == len(data)
    assert stored_names(order.pk) == sorted([row.image.name, row.thumbnail.name])  # one upload's objects
    assert fetch(first.json()["url"]).content == data


@pytest.mark.parametrize("change", ["other picture", "other file name", "one more field"])
def test_other_upload_under_the_same_key_is_422(api, order, change):
    data = make_image("PNG")
    first = send_with_key(api, order.pk, data, key="photo-2", boundary="aaa")
    if change == "other picture":
        other = send_with_key(api, order.pk, make_image("PNG", (65, 48)), key="photo-2", boundary="bbb")
    elif change == "other file name":
        other = send_with_key(api, order.pk, data, key="photo-2", boundary="bbb", name="other.png")
    else:
        other = send_with_key(api, order.pk, data, key="photo-2", boundary="bbb", note="front bumper")

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    row = ServiceOrderImage.objects.get(order=order)
    assert stored_names(order.pk) == sorted([row.image.name, row.thumbnail.name])


def test_malformed_multipart_under_a_key_is_the_parse_error_it_is_without(api, order):
    url = f"/api/v1/orders/{order.pk}/images/"
    bad = {"content_type": "multipart/form-data; boundary=", "HTTP_IDEMPOTENCY_KEY": "photo-3"}
    keyed = api.generic("POST", url, b"--\r\n", **bad)
    plain = api.generic("POST", url, b"--\r\n", content_type=bad["content_type"])
    assert keyed.status_code == plain.status_code == 400
    assert keyed.json()["code"] == plain.json()["code"] == "parse_error"
    assert keyed.json()["detail"] == plain.json()["detail"]
    assert_nothing_saved(order.pk)


# --- refusals ----------------------------------------------------------------


def assert_nothing_saved(order_id: int) -> None:
    assert not ServiceOrderImage.objects.filter(order_id=order_id).exists()
    assert stored_names(order_id) == []


def test_text_labelled_as_png_is_refused(api, order):
    response = upload(api, order.pk, b"just some text, honestly\n" * 20, name="x.png", content_type="image/png")
    assert response.status_code == 400
    assert "not a valid image" in response.json()["detail"]
    assert response.json()["code"] == "invalid_image"
    assert_nothing_saved(order.pk)


def test_truncated_jpeg_is_refused(api, order):
    data = make_image("JPEG", (400, 300), noise=True)
    response = upload(api, order.pk, data[: len(data) // 2], name="x.jpg", content_type="image/jpeg")
    assert response.status_code == 400
    assert "not a valid image" in response.json()["detail"]
    assert_nothing_saved(order.pk)


def test_gif_is_refused_even_though_it_is_an_image(api, order):
    response = upload(api, order.pk, make_image("GIF"), name="x.png", content_type="image/png")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_image_format"
    assert "GIF" in response.json()["detail"]
    assert_nothing_saved(order.pk)


def test_missing_file_field_is_a_400(api, order):
    response = api.post(f"/api/v1/orders/{order.pk}/images/", {"note": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_oversize_image_is_refused_naming_the_limit(api, order):
    data = make_image("PNG", (60, 60), noise=True)
    assert len(data) > 5000
    with override_settings(MAX_IMAGE_UPLOAD_BYTES=5000):
        response = upload(api, order.pk, data)
    assert response.status_code == 413
    assert response.json()["code"] == "image_too_large"
    assert "5000 bytes" in response.json()["detail"]
    assert_nothing_saved(order.pk)


def test_oversize_body_is_refused_before_it_is_read(api, order):
    data = make_image("PNG", (200, 200), noise=True)  # ~120 KB: beyond limit + multipart allowance
    with override_settings(MAX_IMAGE_UPLOAD_BYTES=5000):
        response = upload(api, order.pk, data)
    assert response.status_code == 413
    # Refused from Content-Length alone (by the view or the request-size middleware), naming the limit.
    detail = response.json()["detail"]
    assert "5000 bytes" in detail or "MAX_IMAGE_UPLOAD_BYTES" in detail
    assert_nothing_saved(order.pk)


def test_image_at_the_limit_is_accepted(api, order):
    data = make_image("PNG", (40, 40), noise=True)
    with override_settings(MAX_IMAGE_UPLOAD_BYTES=len(data)):
        response = upload(api, order.pk, data)
    assert response.status_code == 201, response.content


def test_decompression_bomb_is_refused(api, order):
    # 100 000 x 100 000 pixels in 100 bytes: far beyond Pillow's default limit.
    data = png_bomb(100_000, 100_000)
    assert len(data) < 200
    response = upload(api, order.pk, data)
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_many_pixels"
    assert_nothing_saved(order.pk)


def test_pixel_limit_is_the_setting_far_below_pillows(api, order, settings):
    """A small file can still decode into hundreds of megabytes: the project's limit applies."""
    assert settings.MAX_IMAGE_PIXELS < Image.MAX_IMAGE_PIXELS
    settings.MAX_IMAGE_PIXELS = 10_000
    refused = upload(api, order.pk, make_image("PNG", (101, 100)))
    assert refused.status_code == 400
    body = refused.json()
    assert (body["code"], body["field"]) == ("image_too_many_pixels", "file")
    assert "(101 x 100)" in body["detail"] and "10000" in body["detail"]
    assert_nothing_saved(order.pk)
    accepted = upload(api, order.pk, make_image("PNG", (100, 100)))
    assert accepted.status_code == 201, accepted.content


MEASURE_PEAK_MEMORY = """
import resource, sys
import django
django.setup()
from media_uploads.services import inspect_image
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
inspected = inspect_image(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(inspected.width, inspected.height, len(inspected.thumbnail) > 0, (after - before) // 1024)
"""


def _textured(mode: str, size: tuple[int, int]) -> Image.Image:
    """A picture encoders must work on (not a flat colour), quick to make at any size."""
    blocks = Image.frombytes("L", (size[0] // 32, size[1] // 32), os.urandom((size[0] // 32) * (size[1] // 32)))
    return Image.merge(mode, [blocks.resize(size)] * len(mode))


def _at_the_limit(image_format: str, mode: str, turned: bool) -> tuple[bytes, tuple[int, int]]:
    from media_uploads.services import pixel_limit

    side = int(pixel_limit(image_format) ** 0.5)
    image = _textured(mode, (side, side))
    options = {"quality": 85} if image_format != "PNG" else {}
    if turned:
        exif = image.getexif()
        exif[0x0112] = 6
        options["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue(), (side, side)


def peak_memory_growth_mb(tmp_path, data: bytes) -> tuple[list[str], int]:
    """inspect_image in a fresh process (peak resident memory only grows): its answer and the growth."""
    photo = tmp_path / "upload"
    photo.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_PEAK_MEMORY, str(photo)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "maintenance.settings"},
    )
    assert result.returncode == 0, result.stderr
    *answer, grew_mb = result.stdout.split()
    return answer, int(grew_mb)


@pytest.mark.parametrize(
    ("image_format", "mode", "turned"),
    [("JPEG", "RGB", True), ("PNG", "RGBA", False), ("WEBP", "RGBA", True), ("WEBP", "RGB", False)],
)
def test_an_upload_at_its_formats_pixel_limit_stays_within_the_decode_budget(tmp_path, image_format, mode, turned):
    """Issue 22: a 117 KB WebP of 7000 x 7000 raised a worker from 105 to 853 MB.

    Each format's limit comes from IMAGE_DECODE_BUDGET_MB (120 MB; the issue's bound is 150):
    the worst image at that limit (the most pixels, transparency, turned upright) decodes,
    turns, encodes and makes its thumbnail within it.
    """
    data, size = _at_the_limit(image_format, mode, turned)
    (width, height, has_thumbnail), grew_mb = peak_memory_growth_mb(tmp_path, data)
    assert (int(width), int(height), has_thumbnail) == (*size, "True")
    assert grew_mb <= settings.IMAGE_DECODE_BUDGET_MB < 150, f"peak memory grew by {grew_mb} MB"


def test_a_jpeg_above_its_limit_is_decoded_and_stored_at_a_fraction_of_its_size(tmp_path):
    """A 48-megapixel phone photo: libjpeg decodes it at half its size, within the budget."""
    buffer = io.BytesIO()
    _textured("RGB", (8000, 6000)).save(buffer, format="JPEG", quality=85)
    (width, height, has_thumbnail), grew_mb = peak_memory_growth_mb(tmp_path, buffer.getvalue())
    assert (int(width), int(height), has_thumbnail) == (4000, 3000, "True")
    assert grew_mb <= settings.IMAGE_DECODE_BUDGET_MB, f"peak memory grew by {grew_mb} MB"


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_other_formats_above_their_limit_are_refused_before_decoding(api, order, image_format):
    from media_uploads.services import pixel_limit

    side = int(pixel_limit(image_format) ** 0.5) + 2
    buffer = io.BytesIO()
    Image.new("RGB", (side, side)).save(buffer, format=image_format)
    refused = upload(api, order.pk, buffer.getvalue())
    assert refused.status_code == 400
    body = refused.json()
    assert (body["code"], body["field"]) == ("image_too_many_pixels", "file")
    assert f"({side} x {side})" in body["detail"] and str(pixel_limit(image_format)) in body["detail"]
    assert_nothing_saved(order.pk)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("size", [(120, 100), (300, 300)], ids=["above-limit", "above-twice-limit"])
def test_pixel_limit_follows_pillow_setting(api, order, monkeypatch, size):
    """Pillow only warns between one and two times its limit; both are refused."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    response = upload(api, order.pk, make_image("PNG", size))
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_many_pixels"
    assert "10000" in response.json()["detail"]
    assert_nothing_saved(order.pk)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_with_warnings_as_errors(api, order, monkeypatch):
    """Where the warning is turned into an exception (``-W error``), it is still a 400, not a 500."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    response = upload(api, order.pk, make_image("PNG", (120, 100)))
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_many_pixels"
    assert_nothing_saved(order.pk)


# --- unknown order, list, detail, delete ---------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "image/"),
        ("post", "image/"),
        ("get", "images/"),
        ("post", "images/"),
        ("get", "images/1/"),
        ("delete", "images/1/"),
    ],
)
def test_unknown_order_is_404(api, method, path):
    url = f"/api/v1/orders/{MISSING_ORDER}/{path}"
    if method == "post":
        response = api.post(url, {"file": SimpleUploadedFile("a.png", make_image())}, format="multipart")
    else:
        response = getattr(api, method)(url)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert f"Service order {MISSING_ORDER} not found" in response.json()["detail"]
    assert stored_names(MISSING_ORDER) == []


def test_service_refuses_unknown_order_before_uploading():
    with pytest.raises(order_services.NotFound):
        order_services.upload_order_image(MISSING_ORDER, data=make_image())
    assert stored_names(MISSING_ORDER) == []


def test_list_and_detail(api, order, make_order):
    first = upload(api, order.pk, make_image("PNG")).json()
    second = upload(api, order.pk, make_image("WEBP")).json()
    other = make_order()
    upload(api, other.pk, make_image("JPEG"))

    for route in ("images", "image"):
        listed = api.get(f"/api/v1/orders/{order.pk}/{route}/")
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()] == [first["id"], second["id"]]

    detail = api.get(f"/api/v1/orders/{order.pk}/images/{second['id']}/")
    assert detail.status_code == 200
    assert detail.json()["content_type"] == "image/jpeg"  # a WebP is stored as JPEG
    with Image.open(io.BytesIO(fetch(detail.json()["url"]).content)) as stored:
        assert (stored.format, stored.size) == ("JPEG", (64, 48))
    assert fetch(detail.json()["thumbnail_url"]).status_code == 200

    # An image exists, but not on this order.
    assert api.get(f"/api/v1/orders/{other.pk}/images/{first['id']}/").status_code == 404
    assert api.delete(f"/api/v1/orders/{other.pk}/images/{first['id']}/").status_code == 404
    assert ServiceOrderImage.objects.filter(pk=first["id"]).exists()


def test_delete_removes_row_and_objects_after_commit(api, order, django_capture_on_commit_callbacks):
    body = upload(api, order.pk, make_image("JPEG")).json()
    row = ServiceOrderImage.objects.get(pk=body["id"])
    names = [row.image.name, row.thumbnail.name]

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.delete(f"/api/v1/orders/{order.pk}/images/{row.pk}/")
    assert response.status_code == 204
    assert not ServiceOrderImage.objects.filter(pk=row.pk).exists()
    # Not committed yet: the objects are still there.
    assert all(default_storage.exists(name) for name in names)

    for callback in callbacks:
        callback()
    assert not any(default_storage.exists(name) for name in names)
    assert stored_names(order.pk) == []
    assert fetch(body["url"]).status_code == 404
    assert api.get(f"/api/v1/orders/{order.pk}/images/{row.pk}/").status_code == 404


def test_rolled_back_delete_keeps_the_objects(api, order, django_capture_on_commit_callbacks):
    body = upload(api, order.pk, make_image("PNG")).json()
    row = ServiceOrderImage.objects.get(pk=body["id"])

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        row.delete()
        raise RuntimeError("something later in the transaction failed")
    assert callbacks == []
    assert ServiceOrderImage.objects.filter(pk=body["id"]).exists()
    assert fetch(body["url"]).content == make_image("PNG")


def test_deleting_the_order_removes_its_images_objects(api, order, django_capture_on_commit_callbacks):
    body = upload(api, order.pk, make_image("PNG")).json()
    assert len(stored_names(order.pk)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        ServiceOrderImage.objects.filter(order=order).delete()
    assert stored_names(order.pk) == []
    assert fetch(body["url"]).status_code == 404


def test_roles_decide_who_uploads_and_deletes(api, order, anon):
    body = upload(api, order.pk, make_image("PNG")).json()
    viewer = client_for(make_user(groups=("Viewers",)))
    technician = client_for(make_user(groups=("Technicians",)))

    assert anon.get(f"/api/v1/orders/{order.pk}/images/").status_code == 401
    assert upload(anon, order.pk, make_image("PNG")).status_code == 401
    assert viewer.get(f"/api/v1/orders/{order.pk}/images/").status_code == 200
    refused = upload(viewer, order.pk, make_image("PNG"))
    assert refused.status_code == 403
    assert "media_uploads.add_serviceorderimage" in refused.json()["detail"]
    assert viewer.delete(f"/api/v1/orders/{order.pk}/images/{body['id']}/").status_code == 403
    assert len(stored_names(order.pk)) == 2

    uploaded = upload(technician, order.pk, make_image("JPEG"))
    assert uploaded.status_code == 201
    assert ServiceOrderImage.objects.get(pk=uploaded.json()["id"]).uploaded_by.groups.get().name == "Technicians"
    assert technician.delete(f"/api/v1/orders/{order.pk}/images/{body['id']}/").status_code == 204


# --- storage and database failures --------------------------------------------


def test_s3_unreachable_is_503_and_saves_nothing(api, order, monkeypatch):
    down = storage_with(endpoint_url=f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(services, "default_storage", down)

    started = time.monotonic()
    response = upload(api, order.pk, make_image("PNG"))

    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert "storage" in response.json()["detail"]
    assert "S3" in response.json()["detail"]
    assert time.monotonic() - started < 10
    assert_nothing_saved(order.pk)


def test_s3_refusing_is_503_and_saves_nothing(api, order, monkeypatch):
    monkeypatch.setattr(services, "default_storage", storage_with(secret_key="not-the-secret"))
    response = upload(api, order.pk, make_image("PNG"))
    assert response.status_code == 503
    assert response.json()["code"] == "storage_unavailable"
    assert_nothing_saved(order.pk)


def test_database_failure_after_upload_deletes_the_objects(api, order, monkeypatch):
    def broken_create(**kwargs):
        # The objects are in the bucket at this point.
        assert len(stored_names(order.pk)) == 2
        raise IntegrityError("simulated failure writing the row")

    monkeypatch.setattr(ServiceOrderImage.objects, "create", broken_create)
    with pytest.raises(IntegrityError):
        order_services.upload_order_image(order.pk, data=make_image("JPEG"))
    assert_nothing_saved(order.pk)


def test_database_down_after_upload_is_503_and_deletes_the_objects(api, order, monkeypatch):
    def broken_create(**kwargs):
        raise OperationalError("simulated: the database went away")

    monkeypatch.setattr(ServiceOrderImage.objects, "create", broken_create)
    response = upload(api, order.pk, make_image("WEBP"))
    assert response.status_code == 503
    assert_nothing_saved(order.pk)


def test_order_deleted_during_upload_is_404_without_debris(api, order, monkeypatch):
    """The order vanishes between the check and the row: the foreign key refuses, the objects go."""
    real_store = services._store

    def store_then_delete_order(name, data, content_type):
        stored = real_store(name, data, content_type)
        if name.endswith("_thumb.jpg"):
            type(order).objects.filter(pk=order.pk).delete()
            # Outside a test the check runs at COMMIT; here the test's transaction never commits.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return stored

    monkeypatch.setattr(services, "_store", store_then_delete_order)
    with pytest.raises(order_services.NotFound):
        order_services.upload_order_image(order.pk, data=make_image("PNG"))
    assert stored_names(order.pk) == []
    assert not ServiceOrderImage.objects.filter(order_id=order.pk).exists()


# --- links -------------------------------------------------------------------


def test_links_are_presigned_for_the_configured_lifetime(api, order):
    body = upload(api, order.pk, make_image("PNG")).json()
    for url in (body["url"], body["thumbnail_url"]):
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == [str(settings.IMAGE_URL_TTL_SECONDS)]
        assert "X-Amz-Signature" in query

    with override_settings(IMAGE_URL_TTL_SECONDS=120):
        detail = api.get(f"/api/v1/orders/{order.pk}/images/{body['id']}/").json()
    assert parse_qs(urlsplit(detail["url"]).query)["X-Amz-Expires"] == ["120"]
    assert parse_qs(urlsplit(detail["thumbnail_url"]).query)["X-Amz-Expires"] == ["120"]


def test_links_are_signed_for_the_endpoint_browsers_reach(api, order):
    """Issue 23: under compose the links were signed for http://s3:8333, a name only the containers
    resolve. With AWS_S3_PUBLIC_ENDPOINT_URL they are signed for that host, and open from it."""
    internal = urlsplit(settings.AWS_S3_ENDPOINT_URL)
    assert internal.hostname == "127.0.0.1"
    public = f"http://localhost:{internal.port}"  # the same server by another name, as a browser would use
    body = upload(api, order.pk, make_image("PNG")).json()
    with override_settings(AWS_S3_PUBLIC_ENDPOINT_URL=public):
        detail = api.get(f"/api/v1/orders/{order.pk}/images/{body['id']}/").json()
    for url in (detail["url"], detail["thumbnail_url"]):
        assert url.startswith(f"{public}/")
        assert fetch(url).status_code == 200
        # The signature is the host's: the same link under the app's own name is refused.
        assert fetch(url.replace(public, settings.AWS_S3_ENDPOINT_URL)).status_code == 403
    assert urlsplit(body["url"]).netloc == internal.netloc  # without the setting: the app's endpoint


def test_the_bucket_is_not_public(api, order):
    body = upload(api, order.pk, make_image("PNG")).json()
    bare = urlsplit(body["url"])._replace(query="").geturl()
    assert fetch(bare).status_code == 403
    # A signature is for one object: the original's query string does not open the thumbnail.
    original, thumbnail = urlsplit(body["url"]), urlsplit(body["thumbnail_url"])
    assert fetch(original._replace(path=thumbnail.path).geturl()).status_code == 403
    assert fetch(body["url"]).status_code == 200


def test_expired_link_is_refused(api, order):
    body = upload(api, order.pk, make_image("PNG")).json()
    with override_settings(IMAGE_URL_TTL_SECONDS=1):
        url = api.get(f"/api/v1/orders/{order.pk}/images/{body['id']}/").json()["url"]
    assert fetch(url).status_code == 200
    time.sleep(2.2)
    assert fetch(url).status_code == 403


def test_database_keeps_keys_not_links(api, order):
    body = upload(api, order.pk, make_image("PNG")).json()
    row = ServiceOrderImage.objects.get(pk=body["id"])
    assert "?" not in row.image.name and "://" not in row.image.name
    # Each response signs again: a later read gives a working link of its own.
    later = api.get(f"/api/v1/orders/{order.pk}/images/{row.pk}/").json()
    assert fetch(later["url"]).content == make_image("PNG")


# --- the order's representation ---------------------------------------------------


def test_order_representation_lists_its_images(api, order):
    first = upload(api, order.pk, make_image("PNG")).json()
    second = upload(api, order.pk, make_image("JPEG")).json()

    response = api.get(f"/api/v1/orders/{order.pk}/")
    assert response.status_code == 200
    images = response.json()["images"]
    assert [image["id"] for image in images] == [first["id"], second["id"]]
    assert fetch(images[0]["url"]).content == make_image("PNG")
    assert fetch(images[1]["thumbnail_url"]).status_code == 200


def test_order_list_costs_no_query_per_image(api, make_order):
    orders = [make_order(), make_order()]
    for each in orders:
        upload(api, each.pk, make_image("PNG"))

    def count_list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/orders/")
        assert response.status_code == 200
        return len(queries)

    with_one_image_each = count_list_queries()
    for each in orders:
        for _ in range(2):
            upload(api, each.pk, make_image("WEBP"))
    assert count_list_queries() == with_one_image_each

    listed = {item["id"]: item for item in api.get("/api/v1/orders/").json()["results"]}
    assert all(len(listed[each.pk]["images"]) == 3 for each in orders)

"""media_uploads.services, called directly: images checked by content and stored in S3, all or nothing."""

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from maintenance.api.errors import InvalidInput, StorageUnavailable
from media_uploads import services

pytestmark = pytest.mark.django_db


def encoded(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 200, 30) if mode == "RGB" else (10, 200, 30, 128)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/jpeg")]
)
def test_images_are_recognised_by_content(fmt, content_type):
    # A WebP is stored as JPEG (or PNG with transparency): encoding WebP costs too much memory.
    inspected = services.inspect_image(encoded(fmt))
    assert (inspected.content_type, inspected.width, inspected.height) == (content_type, 40, 30)
    assert Image.open(io.BytesIO(inspected.thumbnail)).format == "JPEG"


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"%PDF-1.4\n", encoded("BMP")])
def test_anything_else_is_refused(data):
    with pytest.raises(InvalidInput):
        services.inspect_image(data)


def test_an_image_is_stored_as_its_original_and_a_thumbnail_under_a_fresh_key():
    image = services.inspect_image(encoded("PNG"))
    original, thumbnail = services.store_image(prefix="tests/store", image=image)
    again, _ = services.store_image(prefix="tests/store", image=image)
    try:
        assert original.startswith("tests/store/") and original.endswith(".png") and thumbnail.endswith("_thumb.jpg")
        assert again != original
        with default_storage.open(original) as stored:
            assert stored.read() == image.data
        with default_storage.open(thumbnail) as stored:
            assert stored.read() == image.thumbnail
    finally:
        services.delete_stored_objects([original, thumbnail, again, again.replace(".png", "_thumb.jpg")])
    assert not default_storage.exists(original) and not default_storage.exists(thumbnail)


def test_a_store_that_fails_halfway_leaves_nothing(monkeypatch):
    image = services.inspect_image(encoded("PNG"))
    real_store, stored = services._store, []

    def store_then_fail(name, data, content_type):
        if name.endswith("_thumb.jpg"):
            raise OSError("the store went away")
        stored.append(real_store(name, data, content_type))
        return stored[-1]

    monkeypatch.setattr(services, "_store", store_then_fail)
    with pytest.raises(StorageUnavailable):
        services.store_image(prefix="tests/store", image=image)
    assert len(stored) == 1 and not default_storage.exists(stored[0])


def test_a_converted_picture_does_not_keep_a_profile_of_its_old_samples():
    """A CMYK JPEG is stored as RGB: its CMYK colour profile would misdescribe the new samples."""
    buffer = io.BytesIO()
    Image.new("CMYK", (40, 30), (0, 120, 200, 10)).save(buffer, format="JPEG", icc_profile=b"not-rgb-profile")
    stored = services.inspect_image(buffer.getvalue())
    with Image.open(io.BytesIO(stored.data)) as image:
        assert (image.mode, image.info.get("icc_profile")) == ("RGB", None)
    rgb = io.BytesIO()
    Image.new("RGB", (40, 30)).save(rgb, format="JPEG", icc_profile=b"an-rgb-profile")
    with Image.open(io.BytesIO(services.inspect_image(rgb.getvalue()).data)) as image:
        assert image.info.get("icc_profile") == b"an-rgb-profile"  # kept when the samples are unchanged

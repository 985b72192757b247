"""media_uploads.services, called directly: images checked by content, stored in S3, rows and objects kept together."""

import io
import uuid

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from inventory.services import create_spare_part
from maintenance.api.errors import InvalidInput, NotFound
from media_uploads import services
from media_uploads.models import ServiceOrderImage
from orders.services import place_order

pytestmark = pytest.mark.django_db


def encoded(fmt: str, size=(40, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 200, 30) if mode == "RGB" else (10, 200, 30, 128)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def order():
    part = create_spare_part(name="Pad", sku=f"BRK-STEEL-{uuid.uuid4().hex[:6].upper()}-1", price="1", stock=5)
    order = place_order(request_id=uuid.uuid4().hex, items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    yield order
    for image in ServiceOrderImage.objects.filter(order=order):
        services.delete_stored_objects([image.image.name, image.thumbnail.name])


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_images_are_recognised_by_content(fmt, content_type):
    inspected = services.inspect_image(encoded(fmt))
    assert (inspected.content_type, inspected.width, inspected.height) == (content_type, 40, 30)
    assert Image.open(io.BytesIO(inspected.thumbnail)).format == "JPEG"


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"%PDF-1.4\n", encoded("BMP")])
def test_anything_else_is_refused(data):
    with pytest.raises(InvalidInput):
        services.inspect_image(data)


def test_an_upload_stores_the_original_and_a_thumbnail_and_a_delete_removes_the_row(order):
    data = encoded("PNG")
    image = services.upload_order_image(order.pk, data=data, original_name="pump.png")
    assert (image.content_type, image.size_bytes, image.original_name) == ("image/png", len(data), "pump.png")
    with default_storage.open(image.image.name) as stored:
        assert stored.read() == data
    assert default_storage.exists(image.thumbnail.name)
    assert services.get_order_image(order.pk, image.pk) == image
    services.delete_order_image(order.pk, image.pk)
    assert not ServiceOrderImage.objects.filter(pk=image.pk).exists()
    with pytest.raises(NotFound):
        services.get_order_image(order.pk, image.pk)


def test_an_upload_to_an_unknown_order_stores_nothing():
    with pytest.raises(NotFound):
        services.upload_order_image(10**12, data=encoded("PNG"))
    assert not ServiceOrderImage.objects.exists()


@pytest.mark.parametrize("final", ["completed", "cancelled"])
def test_a_final_orders_photos_can_no_longer_change(order, final):
    from maintenance.api.errors import Conflict
    from orders.services import change_status

    image = services.upload_order_image(order.pk, data=encoded("PNG"))
    if final == "completed":
        change_status(order.pk, "in_progress")
    change_status(order.pk, final)
    with pytest.raises(Conflict) as upload:
        services.upload_order_image(order.pk, data=encoded("PNG"))
    with pytest.raises(Conflict) as delete:
        services.delete_order_image(order.pk, image.pk)
    assert (upload.value.code, delete.value.code) == ("order_final", "order_final")
    assert list(ServiceOrderImage.objects.filter(order=order)) == [image]

"""orders.services, called directly: placing orders, their lines and their lifecycle."""

import io
import uuid
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from inventory.models import StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.api.errors import Conflict, InsufficientStock, InvalidInput, InvalidTransition, NotFound
from media_uploads import services as media
from media_uploads.models import ServiceOrderImage
from orders import services
from orders.models import OrderStatus, ServiceOrder

pytestmark = pytest.mark.django_db


def line(part, quantity):
    return {"spare_part_id": part.pk, "quantity": quantity}


def test_placing_an_order_returns_it_with_its_lines_and_takes_the_stock():
    a = SparePartFactory(price=Decimal("0.33"), stock=10)
    b = SparePartFactory(price=Decimal("19.99"), stock=5, category=None)
    placed = services.place_order(request_id=" r-1 ", items=[line(a, 3), line(b, 2), line(a, 1)], client_name="Ana")
    order = ServiceOrder.objects.get(pk=placed.order.pk)
    assert (placed.replayed, order.request_id, order.total, order.status) == (
        False,
        "r-1",
        Decimal("41.30"),
        OrderStatus.PENDING,
    )
    assert [(item.spare_part_id, item.quantity, item.unit_price) for item in placed.lines] == [
        (a.pk, 3, Decimal("0.33")),
        (b.pk, 2, Decimal("19.99")),
        (a.pk, 1, Decimal("0.33")),
    ]
    assert {part_id: part.stock for part_id, part in placed.parts.items()} == {a.pk: 6, b.pk: 3}
    assert sorted(order.stock_movements.values_list("spare_part_id", "delta")) == sorted([(a.pk, -4), (b.pk, -2)])


def test_the_same_request_id_gets_the_same_order_and_other_lines_a_conflict():
    part = SparePartFactory(stock=10)
    first = services.place_order(request_id="r", items=[line(part, 2)])
    again = services.place_order(request_id="r", items=[line(part, 2)])
    assert (again.replayed, again.order.pk) == (True, first.order.pk)
    with pytest.raises(Conflict) as other:
        services.place_order(request_id="r", items=[line(part, 3)])
    assert (other.value.code, other.value.field) == ("duplicate_request", "request_id")
    part.refresh_from_db()
    assert part.stock == 8


@pytest.mark.parametrize(
    ("items", "error", "code"),
    [
        ([], InvalidInput, "no_items"),
        ([{"spare_part_id": 1, "quantity": 0}], InvalidInput, "invalid"),
        ([{"spare_part_id": 10**12, "quantity": 1}], NotFound, "not_found"),
    ],
)
def test_bad_orders_are_refused_and_write_nothing(items, error, code):
    with pytest.raises(error) as refused:
        services.place_order(request_id="bad", items=items)
    assert refused.value.code == code
    assert not ServiceOrder.objects.exists() and not StockMovement.objects.exists()


def test_an_order_beyond_stock_names_the_part_and_writes_nothing():
    part = SparePartFactory(stock=2)
    with pytest.raises(InsufficientStock) as short:
        services.place_order(request_id="big", items=[line(part, 2), line(part, 1)])
    assert short.value.extra == {"sku": part.sku, "available": 2, "requested": 3}
    assert not ServiceOrder.objects.exists()


def test_lines_are_added_and_removed_on_open_orders_only():
    a, b = SparePartFactory(stock=10, price=Decimal("2.00")), SparePartFactory(stock=10, price=Decimal("3.00"))
    order = services.place_order(request_id="r", items=[line(a, 1)]).order
    item = services.add_order_item(order.pk, spare_part_id=b.pk, quantity=2)
    order.refresh_from_db()
    assert order.total == Decimal("8.00")
    services.remove_order_item(order.pk, item.pk)
    order.refresh_from_db(), b.refresh_from_db()
    assert (order.total, b.stock) == (Decimal("2.00"), 10)
    with pytest.raises(Conflict) as last:
        services.remove_order_item(order.pk, order.items.get().pk)
    assert last.value.code == "last_item"
    services.change_status(order.pk, OrderStatus.IN_PROGRESS)
    services.change_status(order.pk, OrderStatus.COMPLETED)
    with pytest.raises(Conflict) as final:
        services.add_order_item(order.pk, spare_part_id=b.pk, quantity=1)
    assert final.value.code == "order_final"
    with pytest.raises(Conflict):
        services.update_order_details(order.pk, client_name="Late")


def test_the_lifecycle_refuses_skipped_steps_and_cancelling_returns_stock():
    part = SparePartFactory(stock=10)
    order = services.place_order(request_id="r", items=[line(part, 4)]).order
    with pytest.raises(InvalidTransition) as skipped:
        services.change_status(order.pk, OrderStatus.COMPLETED)
    assert skipped.value.extra == {"allowed": ["in_progress", "cancelled"]}
    with pytest.raises(InvalidInput):
        services.change_status(order.pk, "lost")
    with pytest.raises(Conflict) as still_open:
        services.delete_order(order.pk)
    assert still_open.value.code == "order_open"
    services.change_status(order.pk, OrderStatus.CANCELLED)
    part.refresh_from_db()
    assert part.stock == 10
    assert order.stock_movements.filter(reason=StockMovement.Reason.ORDER_CANCELLED).get().delta == 4
    services.delete_order(order.pk)
    assert not ServiceOrder.objects.filter(pk=order.pk).exists()


def test_update_order_changes_details_and_status_together():
    part = SparePartFactory(stock=10)
    order = services.place_order(request_id="r", items=[line(part, 1)]).order
    updated = services.update_order(order.pk, status=OrderStatus.IN_PROGRESS, client_phone="+57 1")
    assert (updated.status, updated.client_phone) == (OrderStatus.IN_PROGRESS, "+57 1")
    with pytest.raises(InvalidInput):
        services.update_order(order.pk)
    with pytest.raises(InvalidInput):
        services.update_order_details(order.pk, total="0")


# --- an order's photos ------------------------------------------------------


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def open_order():
    part = SparePartFactory(stock=5)
    order = services.place_order(request_id=uuid.uuid4().hex, items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    yield order
    for image in ServiceOrderImage.objects.filter(order=order):
        media.delete_stored_objects([image.image.name, image.thumbnail.name])


def test_an_upload_stores_the_original_and_a_thumbnail_and_a_delete_removes_the_row(open_order):
    data = png_bytes()
    image = services.upload_order_image(open_order.pk, data=data, original_name="pump.png")
    assert (image.content_type, image.size_bytes, image.original_name) == ("image/png", len(data), "pump.png")
    with default_storage.open(image.image.name) as stored:
        assert stored.read() == data
    assert default_storage.exists(image.thumbnail.name)
    assert services.get_order_image(open_order.pk, image.pk) == image
    services.delete_order_image(open_order.pk, image.pk)
    assert not ServiceOrderImage.objects.filter(pk=image.pk).exists()
    with pytest.raises(NotFound):
        services.get_order_image(open_order.pk, image.pk)


def test_an_upload_to_an_unknown_order_stores_nothing():
    with pytest.raises(NotFound):
        services.upload_order_image(10**12, data=png_bytes())
    assert not ServiceOrderImage.objects.exists()


@pytest.mark.parametrize("final", ["completed", "cancelled"])
def test_a_final_orders_photos_can_no_longer_change(open_order, final):
    image = services.upload_order_image(open_order.pk, data=png_bytes())
    if final == "completed":
        services.change_status(open_order.pk, "in_progress")
    services.change_status(open_order.pk, final)
    with pytest.raises(Conflict) as upload:
        services.upload_order_image(open_order.pk, data=png_bytes())
    with pytest.raises(Conflict) as delete:
        services.delete_order_image(open_order.pk, image.pk)
    assert (upload.value.code, delete.value.code) == ("order_final", "order_final")
    assert list(ServiceOrderImage.objects.filter(order=open_order)) == [image]

"""The order admin: placing and editing orders through the services, lifecycle actions, photos."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from inventory.models import SparePart, StockMovement
from inventory.tests.factories import SparePartFactory
from media_uploads.models import ServiceOrderImage
from orders import services
from orders.models import OrderStatus, ServiceOrder, ServiceOrderItem

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_serviceorder_changelist")
ADD = reverse("admin:orders_serviceorder_add")


def change_url(order):
    return reverse("admin:orders_serviceorder_change", args=[order.pk])


def png_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def add_form(*lines, **fields):
    """The add page's POST: client fields and the "add items" inline (prefix ``items``)."""
    data = {
        "request_id": "",
        "client_name": "Talleres Rivera",
        "client_phone": "+57 301 555 0101",
        "client_email": "rivera@example.com",
        "description": "Pump overhaul",
        "items-TOTAL_FORMS": str(max(len(lines), 1)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    # An untouched extra row posts its initial quantity and no part, as a browser does.
    data.update({"items-0-spare_part": "", "items-0-quantity": "1"})
    for index, (part, quantity) in enumerate(lines):
        data[f"items-{index}-spare_part"] = str(part.pk)
        data[f"items-{index}-quantity"] = str(quantity)
    data.update(fields)
    return data


def change_form(order, *, new_lines=(), remove=(), delete_images=(), **fields):
    """The change page's POST: existing items (``items``), new items (``items-2``), photos (``images``)."""
    items = list(order.items.order_by("id"))
    images = list(order.images.order_by("id"))
    data = {
        "client_name": order.client_name,
        "client_phone": order.client_phone,
        "client_email": order.client_email,
        "description": order.description,
        "status": order.status,
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
        "items-2-TOTAL_FORMS": str(max(len(new_lines), 1)),
        "items-2-INITIAL_FORMS": "0",
        "items-2-MIN_NUM_FORMS": "0",
        "items-2-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": str(len(images)),
        "images-INITIAL_FORMS": str(len(images)),
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    for index, item in enumerate(items):
        data[f"items-{index}-id"] = str(item.pk)
        data[f"items-{index}-order"] = str(order.pk)
        if item in remove:
            data[f"items-{index}-DELETE"] = "on"
    data.update({"items-2-0-spare_part": "", "items-2-0-quantity": "1"})
    for index, (part, quantity) in enumerate(new_lines):
        data[f"items-2-{index}-spare_part"] = str(part.pk)
        data[f"items-2-{index}-quantity"] = str(quantity)
    for index, image in enumerate(images):
        data[f"images-{index}-id"] = str(image.pk)
        data[f"images-{index}-order"] = str(order.pk)
        if image in delete_images:
            data[f"images-{index}-DELETE"] = "on"
    data.update(fields)
    return data


def place(*lines, request_id="r", **fields) -> ServiceOrder:
    return services.place_order(
        request_id=request_id,
        items=[{"spare_part_id": part.pk, "quantity": quantity} for part, quantity in lines],
        **fields,
    ).order


# --- lists -------------------------------------------------------------------


def test_changelist_renders_with_constant_queries(staff):
    parts = SparePartFactory.create_batch(3, stock=1000)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(CHANGELIST)
        assert response.status_code == 200
        return len(queries)

    for n in range(3):
        place((parts[0], 1), (parts[1], 2), request_id=f"a{n}")
    few = count_queries()
    for n in range(15):
        place((parts[0], 1), (parts[1], 2), (parts[2], 1), request_id=f"b{n}")
    assert count_queries() == few


def test_changelist_columns_search_and_filters(staff):
    bolt = SparePartFactory(sku="A-STL-M10-50", stock=100, price=Decimal("0.45"))
    nut = SparePartFactory(sku="N-STL-M10-0", stock=100)
    rivera = place((bolt, 3), (nut, 1), request_id="rivera-1", client_name="Talleres Rivera")
    other = place((nut, 1), request_id="other-1", client_name="Other client", client_email="x@example.com")
    services.change_status(other.pk, OrderStatus.IN_PROGRESS)

    response = staff.get(CHANGELIST)
    rows = {order.pk: order for order in response.context["cl"].result_list}
    assert rows[rivera.pk].item_count == 2 and rows[other.pk].item_count == 1

    def found(**params):
        return {order.pk for order in staff.get(CHANGELIST, params).context["cl"].result_list}

    assert found(q="A-STL-M10-50") == {rivera.pk}
    assert found(q="rivera-1") == {rivera.pk}
    assert found(q="x@example.com") == {other.pk}
    assert found(q="N-STL-M10-0") == {rivera.pk, other.pk}  # no duplicate rows from the join
    assert found(status__exact="in_progress") == {other.pk}
    today = rivera.date_created
    assert found(date_created__year=today.year, date_created__month=today.month, date_created__day=today.day) == {
        rivera.pk,
        other.pk,
    }


def test_change_pages_render_for_open_and_final_orders(staff):
    part = SparePartFactory(stock=10)
    order = place((part, 1))
    assert staff.get(ADD).status_code == 200
    page = staff.get(change_url(order))
    assert page.status_code == 200
    assert "Add items" in page.content.decode()
    services.change_status(order.pk, OrderStatus.CANCELLED)
    final = staff.get(change_url(order))
    assert final.status_code == 200
    html = final.content.decode()
    # A record now: no save buttons, no "tick delete" hints, nothing to tick, no photo to add.
    assert "Add items" not in html and "tick “delete”" not in html and 'name="_save"' not in html
    assert "-DELETE" not in html and 'name="new_image"' not in html
    assert staff.post(change_url(order), {"client_name": "Late"}).status_code == 403
    order.refresh_from_db()
    assert order.client_name == ""


def test_part_autocomplete_for_order_lines(staff):
    SparePartFactory(sku="B-CHR-20-47", name="Bearing 6204", stock=12, price=Decimal("3.90"))
    response = staff.get(
        reverse("admin:autocomplete"),
        {"app_label": "orders", "model_name": "serviceorderitem", "field_name": "spare_part", "term": "B-CHR"},
    )
    assert response.status_code == 200
    # Stock and price in the picker: a clerk sees what is there before choosing.
    assert [row["text"] for row in response.json()["results"]] == ["B-CHR-20-47 — Bearing 6204 · 12 in stock · 3.90"]
    # With the price and stock the form's live totals use.
    assert [(row["price"], row["stock"]) for row in response.json()["results"]] == [("3.90", 12)]


# --- placing an order -------------------------------------------------------------


def test_admin_order_with_two_lines_takes_stock_and_sets_total(staff, superuser):
    bolt = SparePartFactory(stock=10, price=Decimal("0.33"))
    bearing = SparePartFactory(stock=5, price=Decimal("4.40"))
    response = staff.post(ADD, add_form((bolt, 3), (bearing, 2)))
    assert response.status_code == 302, response.content.decode()[:3000]

    order = ServiceOrder.objects.get()
    assert order.request_id.startswith("admin-")
    assert (order.client_name, order.status, order.created_by) == ("Talleres Rivera", "pending", superuser)
    assert order.total == Decimal("9.79")  # 3 * 0.33 + 2 * 4.40, exact
    assert sorted(order.items.values_list("spare_part_id", "quantity", "unit_price")) == sorted(
        [(bolt.pk, 3, Decimal("0.33")), (bearing.pk, 2, Decimal("4.40"))]
    )
    bolt.refresh_from_db()
    bearing.refresh_from_db()
    assert (bolt.stock, bearing.stock) == (7, 3)
    assert set(order.stock_movements.values_list("reason", flat=True)) == {StockMovement.Reason.ORDER}
    assert response["Location"].endswith(change_url(order)) or response["Location"] == CHANGELIST


def test_admin_order_keeps_a_given_request_id(staff):
    part = SparePartFactory(stock=10)
    assert staff.post(ADD, add_form((part, 1), request_id="phone-call-17")).status_code == 302
    assert ServiceOrder.objects.get().request_id == "phone-call-17"


def test_an_order_that_would_oversell_is_a_form_error_and_saves_nothing(staff):
    bolt = SparePartFactory(stock=10, name="Bolt", sku="A-STL-M10-50")
    bearing = SparePartFactory(stock=1, name="Bearing", sku="B-CHR-20-47")
    movements = StockMovement.objects.count()
    next_number = ServiceOrder.objects.create(request_id="probe").pk + 1
    ServiceOrder.objects.filter(request_id="probe").delete()
    response = staff.post(ADD, add_form((bolt, 2), (bearing, 2)))
    assert response.status_code == 200
    lines = response.context["inline_admin_formsets"][0].formset.forms
    # On the line that asks too much, not at the top of the page.
    assert lines[1].errors["quantity"] == ["Only 1 of B-CHR-20-47 in stock; the order's lines ask for 2."]
    assert not lines[0].errors
    assert not ServiceOrder.objects.exists() and not ServiceOrderItem.objects.exists()
    assert StockMovement.objects.count() == movements
    assert list(SparePart.objects.order_by("pk").values_list("stock", flat=True)) == [10, 1]
    # The lines staff entered are still on the page.
    assert response.context["inline_admin_formsets"][0].formset.forms[1]["quantity"].value() == "2"
    # The refused save spent no order number.
    assert place((bolt, 1), request_id="after").pk == next_number


def test_an_order_without_lines_is_a_form_error(staff):
    response = staff.post(ADD, add_form())
    assert response.status_code == 200
    assert "An order needs at least one item." in response.content.decode()
    assert not ServiceOrder.objects.exists()


def test_quantity_must_be_positive(staff):
    part = SparePartFactory(stock=10)
    response = staff.post(ADD, add_form((part, 0)))
    assert response.status_code == 200
    assert not ServiceOrder.objects.exists()


# --- editing an open order ---------------------------------------------------------


def test_adding_and_removing_lines_on_an_open_order(staff):
    bolt = SparePartFactory(stock=10, price=Decimal("1.00"))
    nut = SparePartFactory(stock=10, price=Decimal("0.10"))
    order = place((bolt, 2), (nut, 5))
    nut_line = order.items.get(spare_part=nut)

    response = staff.post(change_url(order), change_form(order, new_lines=[(bolt, 3)], remove=[nut_line]))
    assert response.status_code == 302, response.content.decode()[:3000]
    order.refresh_from_db()
    assert sorted(order.items.values_list("spare_part_id", "quantity")) == [(bolt.pk, 2), (bolt.pk, 3)]
    assert order.total == Decimal("5.00")
    bolt.refresh_from_db()
    nut.refresh_from_db()
    assert (bolt.stock, nut.stock) == (5, 10)
    assert nut.movements.first().reason == StockMovement.Reason.ORDER_LINE_REMOVED


def test_adding_a_line_beyond_stock_is_a_form_error(staff):
    part = SparePartFactory(stock=3, name="Bolt", sku="A-STL-M10-50")
    order = place((part, 1))
    response = staff.post(change_url(order), change_form(order, new_lines=[(part, 5)], client_name="Changed"))
    assert response.status_code == 200
    new_lines = next(fs.formset for fs in response.context["inline_admin_formsets"] if fs.formset.prefix == "items-2")
    assert "Only 2 of A-STL-M10-50 in stock" in new_lines.forms[0].errors["quantity"][0]
    order.refresh_from_db()
    part.refresh_from_db()
    assert (order.items.count(), order.client_name, part.stock) == (1, "", 2)


def test_editing_client_fields_and_moving_status(staff):
    part = SparePartFactory(stock=3)
    order = place((part, 1))
    response = staff.post(change_url(order), change_form(order, client_phone="555-1234", status="in_progress"))
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.client_phone, order.status) == ("555-1234", "in_progress")


def test_the_status_field_offers_only_allowed_moves(staff):
    part = SparePartFactory(stock=3)
    order = place((part, 1))
    page = staff.get(change_url(order))
    choices = [value for value, _label in page.context["adminform"].form.fields["status"].choices]
    assert choices == ["pending", "in_progress", "cancelled"]
    response = staff.post(change_url(order), change_form(order, status="completed"))
    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    order.refresh_from_db()
    assert order.status == "pending"


def test_removing_the_last_line_is_refused(staff):
    part = SparePartFactory(stock=3)
    order = place((part, 1))
    response = staff.post(change_url(order), change_form(order, remove=list(order.items.all())))
    assert response.status_code == 200
    assert "An order keeps at least one item; cancel the order instead." in response.content.decode()
    assert order.items.count() == 1


# --- lifecycle actions -----------------------------------------------------------------


def act(client, action, *orders):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [order.pk for order in orders]}, follow=True)


def test_start_complete_and_cancel_actions(staff):
    part = SparePartFactory(stock=10)
    first, second = place((part, 2), request_id="1"), place((part, 3), request_id="2")

    response = act(staff, "start_orders", first, second)
    assert response.status_code == 200
    assert "Started 2 orders." in [str(message) for message in response.context["messages"]]
    act(staff, "complete_orders", first)
    act(staff, "cancel_orders", second)

    first.refresh_from_db()
    second.refresh_from_db()
    part.refresh_from_db()
    assert (first.status, second.status) == ("completed", "cancelled")
    assert part.stock == 8  # the cancelled order's 3 came back
    assert part.movements.first().reason == StockMovement.Reason.ORDER_CANCELLED


def test_a_refused_transition_is_a_message_per_order(staff):
    part = SparePartFactory(stock=10)
    pending = place((part, 1), request_id="1")
    done = place((part, 1), request_id="2")
    services.change_status(done.pk, "in_progress")
    services.change_status(done.pk, "completed")

    response = act(staff, "complete_orders", pending, done)
    assert response.status_code == 200
    texts = [str(message) for message in response.context["messages"]]
    assert any(text.startswith(f"Order #{pending.pk}: Cannot move order") for text in texts)
    assert f"Order #{done.pk} is already completed." in texts
    pending.refresh_from_db()
    assert pending.status == "pending"

    response = act(staff, "cancel_orders", done)
    assert any("Allowed next statuses" in str(message) for message in response.context["messages"])
    part.refresh_from_db()
    assert part.stock == 8


# --- photos --------------------------------------------------------------------------------


def test_uploading_a_photo_on_the_order_page(staff, superuser):
    part = SparePartFactory(stock=10)
    order = place((part, 1))
    upload = SimpleUploadedFile("pump.png", png_bytes(), content_type="image/png")
    response = staff.post(change_url(order), {**change_form(order), "new_image": upload})
    assert response.status_code == 302, response.content.decode()[:3000]

    image = ServiceOrderImage.objects.get(order=order)
    assert (image.content_type, image.width, image.height, image.original_name) == ("image/png", 64, 48, "pump.png")
    assert image.uploaded_by == superuser
    assert image.image.name.startswith(f"orders/{order.pk}/") and image.image.name.endswith(".png")
    assert default_storage.exists(image.image.name) and default_storage.exists(image.thumbnail.name)
    with default_storage.open(image.image.name) as stored:
        assert stored.read() == png_bytes()

    page = staff.get(change_url(order)).content.decode()
    assert "X-Amz-Signature" in page  # the thumbnail and the link to the full image are signed
    assert image.thumbnail.name.rsplit("/", 1)[-1] in page and image.image.name.rsplit("/", 1)[-1] in page


def test_a_photo_can_come_with_a_new_order(staff):
    part = SparePartFactory(stock=10)
    upload = SimpleUploadedFile("site.png", png_bytes(), content_type="image/png")
    response = staff.post(ADD, {**add_form((part, 1)), "new_image": upload})
    assert response.status_code == 302
    assert ServiceOrderImage.objects.get().order == ServiceOrder.objects.get()


def test_a_file_that_is_not_an_image_is_a_form_error(staff):
    part = SparePartFactory(stock=10)
    order = place((part, 1))
    fake = SimpleUploadedFile("fake.png", b"this is text, not a picture", content_type="image/png")
    response = staff.post(change_url(order), {**change_form(order, client_name="Not saved"), "new_image": fake})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["new_image"] == ["The file is not a valid image."]
    order.refresh_from_db()
    assert order.client_name == "" and not ServiceOrderImage.objects.exists()


def test_a_failed_order_with_a_photo_leaves_no_photo(staff):
    part = SparePartFactory(stock=1)
    upload = SimpleUploadedFile("site.png", png_bytes(), content_type="image/png")
    response = staff.post(ADD, {**add_form((part, 5)), "new_image": upload})
    assert response.status_code == 200
    assert not ServiceOrder.objects.exists() and not ServiceOrderImage.objects.exists()


def test_deleting_a_photo_from_the_order_page(staff, django_capture_on_commit_callbacks):
    from orders import services as order_services

    part = SparePartFactory(stock=10)
    order = place((part, 1))
    image = order_services.upload_order_image(order.pk, data=png_bytes(), original_name="x.png")
    names = [image.image.name, image.thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(change_url(order), change_form(order, delete_images=[image]))
    assert response.status_code == 302
    assert not ServiceOrderImage.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


# --- history ---------------------------------------------------------------------------------


def test_order_history_shows_status_moves_and_lines(staff):
    part = SparePartFactory(stock=10, name="Bolt", sku="A-STL-M10-50")
    order = place((part, 2))
    staff.post(change_url(order), change_form(order, status="in_progress", new_lines=[(part, 1)]))
    response = staff.get(reverse("admin:orders_serviceorder_history", args=[order.pk]))
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert '<span class="audit-old">Pending</span> → <span class="audit-new">In progress</span>' in html
    assert "Bolt (A-STL-M10-50) (#" in html  # a line's part, shown by name
    assert html.count("created service order item") == 2


def test_editing_lines_locks_the_order_then_every_part_in_id_order_first(staff):
    """An order locks its parts in id order; the admin's save, one transaction of several line
    changes, must take them the same way or the two can deadlock."""
    low, mid, high = (SparePartFactory(stock=10) for _ in range(3))
    order = place((mid, 1), (low, 1))
    low_line = order.items.get(spare_part=low)
    with CaptureQueriesContext(connection) as queries:
        response = staff.post(change_url(order), change_form(order, new_lines=[(high, 1), (mid, 2)], remove=[low_line]))
    assert response.status_code == 302, response.content.decode()[:3000]
    statements = [query["sql"] for query in queries.captured_queries]
    locks = [i for i, sql in enumerate(statements) if "FOR UPDATE" in sql]
    first_write = next(
        i
        for i, sql in enumerate(statements)
        if sql.lstrip().upper().startswith("UPDATE") or "INSERT INTO" in sql.upper()
    )
    order_lock, parts_lock = locks[0], locks[1]
    assert order_lock < parts_lock < first_write
    assert '"orders_serviceorder"' in statements[order_lock]
    assert "inventory_sparepart" in statements[parts_lock]
    # All three parts in one statement, before anything is written.
    assert "{" + ",".join(str(pk) for pk in sorted((low.pk, mid.pk, high.pk))) + "}" in statements[parts_lock]
    order.refresh_from_db()
    assert sorted(order.items.values_list("spare_part_id", "quantity")) == sorted(
        [(mid.pk, 1), (high.pk, 1), (mid.pk, 2)]
    )

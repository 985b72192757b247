"""Every write path leaves exactly the audit rows it should, with its actor and its request.

One audit mechanism (maintenance.audit.signals): ORM saves reach the receivers through
post_save/post_delete, the stock hot path and bulk changes through the project's own
signals. Each case below is one way a user changes business data — the API, the admin,
the CSV import, a management command — and lists the rows it must leave:
(model, action, the fields the row names).
"""

from __future__ import annotations

import io
from collections import Counter
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from inventory.models import Category, SparePart
from inventory.tests.factories import CategoryFactory, SparePartFactory
from maintenance.audit.models import Auditor
from media_uploads.models import ServiceOrderImage
from orders import services as orders
from orders.models import ServiceOrder

pytestmark = pytest.mark.django_db

PART, CATEGORY, ORDER, LINE, IMAGE = "sparepart", "category", "serviceorder", "serviceorderitem", "serviceorderimage"


def new_rows(since: int) -> list[Auditor]:
    return list(Auditor.objects.filter(pk__gt=since).select_related("content_type").order_by("pk"))


def summary(rows) -> Counter:
    return Counter((row.content_type.model, row.action, tuple(sorted(row.changes))) for row in rows)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def last_id() -> int:
    return Auditor.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def assert_rows(rows, expected: list[tuple], *, actor, request_id: str | None):
    assert summary(rows) == Counter(expected), [(r.content_type.model, r.action, r.changes) for r in rows]
    for row in rows:
        assert row.actor_id == (actor.pk if actor else None), row
        if request_id is not None:
            assert row.request_id == request_id, row


# --- the API -------------------------------------------------------------------------------------

PART_FIELDS = ("category_id", "min_stock", "name", "price", "sku", "stock")
ORDER_FIELDS = (
    "client_email",
    "client_name",
    "client_phone",
    "created_by_id",
    "description",
    "request_id",
    "status",
    "total",
)
LINE_FIELDS = ("order_id", "quantity", "spare_part_id", "unit_price")


def api_cases(part, other, category, order):
    """(name, method, url, body, format, expected rows)."""
    return [
        (
            "create category",
            "post",
            "/api/v1/categories/",
            {"name": "Seals"},
            "json",
            [(CATEGORY, "create", ("description", "name"))],
        ),
        (
            "rename category",
            "patch",
            f"/api/v1/categories/{category.pk}/",
            {"name": "Valves 2"},
            "json",
            [(CATEGORY, "update", ("name",))],
        ),
        (
            "create part with stock",
            "post",
            "/api/v1/items/",
            {"name": "Bolt", "sku": "Z-STL-M8-20", "price": "0.10", "stock": 5},
            "json",
            # No category: a field still empty is no change.
            [(PART, "create", ("min_stock", "name", "price", "sku", "stock")), (PART, "update", ("stock",))],
        ),
        (
            "edit part price and stock",
            "patch",
            f"/api/v1/items/{part.sku}/",
            {"price": "9.99", "stock": 77},
            "json",
            [(PART, "update", ("price",)), (PART, "update", ("stock",))],
        ),
        (
            "adjust stock",
            "post",
            f"/api/v1/items/{part.sku}/adjust-stock/",
            {"delta": 3},
            "json",
            [(PART, "update", ("stock",))],
        ),
        (
            "place order",
            "post",
            "/api/v1/orders/",
            {
                "request_id": "audit-1",
                "items": [{"spare_part_id": part.pk, "quantity": 1}, {"spare_part_id": other.pk, "quantity": 2}],
            },
            "json",
            [
                (ORDER, "create", ORDER_FIELDS),
                (PART, "update", ("stock",)),
                (PART, "update", ("stock",)),
                (LINE, "create", LINE_FIELDS),
                (LINE, "create", LINE_FIELDS),
            ],
        ),
        (
            "edit client",
            "patch",
            f"/api/v1/orders/{order.pk}/",
            {"client_name": "Rivera"},
            "json",
            [(ORDER, "update", ("client_name",))],
        ),
        (
            "add line",
            "post",
            f"/api/v1/orders/{order.pk}/items/",
            {"spare_part_id": other.pk, "quantity": 1},
            "json",
            [(PART, "update", ("stock",)), (LINE, "create", LINE_FIELDS), (ORDER, "update", ("total",))],
        ),
        (
            "upload photo",
            "post",
            f"/api/v1/orders/{order.pk}/image/",
            {"file": SimpleUploadedFile("a.png", png(), content_type="image/png")},
            "multipart",
            [(IMAGE, "create", None)],
        ),
        (
            "cancel order",
            "patch",
            f"/api/v1/orders/{order.pk}/",
            {"status": "cancelled"},
            "json",
            # Both parts go back to stock: the order's first line and the one added above.
            [(ORDER, "update", ("status",)), (PART, "update", ("stock",)), (PART, "update", ("stock",))],
        ),
        (
            "delete category",
            "delete",
            f"/api/v1/categories/{category.pk}/",
            None,
            None,
            [(CATEGORY, "delete", ("description", "name")), (PART, "update", ("category_id",))],
        ),
        (
            "delete part",
            "delete",
            f"/api/v1/items/{SparePartFactory(sku='Y-STL-M8-20').sku}/",
            None,
            None,
            [(PART, "delete", PART_FIELDS)],
        ),
    ]


def test_every_api_write_leaves_its_audit_rows(api, superuser):
    category = CategoryFactory(name="Valves")
    part = SparePartFactory(sku="A-STL-M10-50", stock=50, price=Decimal("2.00"), category=category)
    other = SparePartFactory(sku="B-STL-M10-50", stock=50, price=Decimal("3.00"))
    order = orders.place_order(request_id="base", items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    for name, method, url, body, fmt, expected in api_cases(part, other, category, order):
        since = last_id()
        response = getattr(api, method)(url, body, format=fmt) if body is not None else getattr(api, method)(url)
        assert response.status_code < 300, (name, response.content[:300])
        rows = new_rows(since)
        if expected and expected[0][2] is None:  # an image: every field but the key names
            assert [(r.content_type.model, r.action) for r in rows] == [(IMAGE, "create")], name
        else:
            assert_rows(rows, expected, actor=superuser, request_id=response["X-Request-ID"])
        if rows:
            assert {r.request_id for r in rows} == {response["X-Request-ID"]}, name


def test_removing_a_line_and_deleting_a_photo_leave_their_rows(api, superuser):
    part = SparePartFactory(stock=50)
    order = orders.place_order(request_id="two-lines", items=[{"spare_part_id": part.pk, "quantity": 1}] * 2).order
    line = order.items.last()
    since = last_id()
    response = api.delete(f"/api/v1/orders/{order.pk}/items/{line.pk}/")
    assert response.status_code == 200, response.content
    assert_rows(
        new_rows(since),
        [(PART, "update", ("stock",)), (LINE, "delete", LINE_FIELDS), (ORDER, "update", ("total",))],
        actor=superuser,
        request_id=response["X-Request-ID"],
    )
    upload = api.post(
        f"/api/v1/orders/{order.pk}/image/", {"file": SimpleUploadedFile("a.png", png())}, format="multipart"
    )
    assert upload.status_code == 201, upload.content
    since = last_id()
    response = api.delete(f"/api/v1/orders/{order.pk}/images/{upload.json()['id']}/")
    assert response.status_code == 204, response.content
    rows = new_rows(since)
    assert [(r.content_type.model, r.action, r.actor_id, r.request_id) for r in rows] == [
        (IMAGE, "delete", superuser.pk, response["X-Request-ID"])
    ]


# --- the admin, the CSV import, a management command ---------------------------------------------


def test_admin_writes_leave_their_audit_rows(staff, superuser):
    part = SparePartFactory(sku="A-STL-M10-50", stock=10, price=Decimal("1.00"), category=None)
    since = last_id()
    response = staff.post(
        reverse("admin:inventory_sparepart_change", args=[part.pk]),
        {
            "name": part.name,
            "sku": part.sku,
            "category": "",
            "price": "1.50",
            "stock": 12,
            "min_stock": 0,
            "stock_note": "counted",
            "stock_seen": 10,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_rows(
        new_rows(since),
        [(PART, "update", ("price",)), (PART, "update", ("stock",))],
        actor=superuser,
        request_id=response["X-Request-ID"],
    )

    since = last_id()
    response = staff.post(
        reverse("admin:orders_serviceorder_add"),
        {
            "request_id": "",
            "client_name": "Rivera",
            "client_phone": "",
            "client_email": "",
            "description": "",
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000",
            "items-0-spare_part": str(part.pk),
            "items-0-quantity": "2",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_rows(
        new_rows(since),
        [(ORDER, "create", ORDER_FIELDS), (PART, "update", ("stock",)), (LINE, "create", LINE_FIELDS)],
        actor=superuser,
        request_id=response["X-Request-ID"],
    )

    since = last_id()
    response = staff.post(reverse("admin:inventory_category_add"), {"name": "Pumps", "description": ""})
    assert response.status_code == 302
    assert_rows(
        new_rows(since),
        [(CATEGORY, "create", ("description", "name"))],
        actor=superuser,
        request_id=response["X-Request-ID"],
    )


def test_csv_import_leaves_its_audit_rows(staff, superuser):
    existing = SparePartFactory(sku="B-CHR-25-52", name="Bearing 6205", stock=10, price=Decimal("4.00"), category=None)
    text = (
        "sku,name,category,price,stock,min_stock\n"
        "B-CHR-20-47,Bearing 6204,,3.90,60,10\n"
        "B-CHR-25-52,Bearing 6205,,4.40,45,0\n"
    )
    preview = staff.post(
        reverse("admin:inventory_sparepart_import"),
        {
            "import_file": SimpleUploadedFile("parts.csv", text.encode(), content_type="text/csv"),
            "format": "0",
            "resource": "",
        },
    )
    since = last_id()
    confirm = staff.post(reverse("admin:inventory_sparepart_process_import"), preview.context["confirm_form"].initial)
    assert confirm.status_code == 302
    assert_rows(
        new_rows(since),
        [
            (PART, "create", ("min_stock", "name", "price", "sku", "stock")),  # stock 0, then through the ledger:
            (PART, "update", ("stock",)),
            (PART, "update", ("price",)),
            (PART, "update", ("stock",)),
        ],
        actor=superuser,
        request_id=confirm["X-Request-ID"],
    )
    assert SparePart.objects.get(pk=existing.pk).stock == 45


def test_a_management_command_is_audited_without_actor_or_request(db):
    since = last_id()
    call_command("load_demo_data", stdout=io.StringIO())
    rows = new_rows(since)
    counts = summary(rows)
    created = Counter(model for (model, action, _fields) in counts.elements() if action == "create")
    assert created[CATEGORY] == Category.objects.count()
    assert created[PART] == SparePart.objects.count()
    assert created[ORDER] == ServiceOrder.objects.count()
    assert not ServiceOrderImage.objects.exists() or created[IMAGE] == ServiceOrderImage.objects.count()
    assert {(row.actor_id, row.request_id) for row in rows} == {(None, "")}

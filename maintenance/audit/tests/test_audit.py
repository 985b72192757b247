from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction

from conftest import client_for, make_user
from inventory import services as inventory
from inventory.models import Category, SparePart, StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.accounts.models import ApiToken
from maintenance.accounts.services import issue_api_token
from maintenance.audit import services as audit
from maintenance.audit.context import acting_as
from maintenance.audit.models import Auditor
from orders import services as orders
from orders.models import ServiceOrder, ServiceOrderItem

pytestmark = pytest.mark.django_db


def rows_for(instance):
    return Auditor.objects.filter(
        content_type=ContentType.objects.get_for_model(type(instance)), object_id=str(instance.pk)
    ).order_by("id")


def test_category_create_update_delete_via_api_records_actor_and_request_id(api, superuser):
    created = api.post("/api/v1/categories/", {"name": "Seals"}, HTTP_X_REQUEST_ID="req-create-1")
    category = Category.objects.get()
    row = rows_for(category).get()
    assert row.action == "create"
    assert row.actor == superuser
    # The server's id is the request's; the client's is kept beside it (issue 22: it was taken as the id).
    assert row.request_id == created["X-Request-ID"] != "req-create-1"
    assert row.client_request_id == "req-create-1" == created["X-Client-Request-ID"]
    assert row.changes["name"] == [None, "Seals"]
    assert row.remote_addr == "127.0.0.1"

    api.patch(f"/api/v1/categories/{category.pk}/", {"name": "Oil seals"})
    update = rows_for(category).last()
    assert update.action == "update"
    assert update.changes == {"name": ["Seals", "Oil seals"]}

    api.delete(f"/api/v1/categories/{category.pk}/")
    delete = rows_for(category).last()
    assert delete.action == "delete"
    assert delete.changes["name"] == ["Oil seals", None]
    assert delete.object_repr == "Oil seals"


def test_price_change_records_old_and_new(api):
    part = SparePartFactory(sku="A-STL-M10-50", price=Decimal("10.00"))
    response = api.patch("/api/v1/items/A-STL-M10-50", {"price": "12.50"}, format="json")
    row = rows_for(part).filter(action="update").last()
    assert row.changes == {"price": ["10.00", "12.50"]}
    assert row.request_id == response["X-Request-ID"]


def test_every_stock_change_has_an_audit_row_on_every_path(api):
    """No change of stock or order status happens without an audit row, whatever the path."""
    a = SparePartFactory(stock=50)
    b = SparePartFactory(stock=50)
    inventory.adjust_stock(a, delta=5)
    inventory.update_spare_part(a, stock=40)
    order = orders.place_order(
        request_id="r", items=[{"spare_part_id": a.pk, "quantity": 2}, {"spare_part_id": b.pk, "quantity": 3}]
    ).order
    orders.add_order_item(order.pk, spare_part_id=b.pk, quantity=1)
    item = order.items.filter(spare_part=b).first()
    orders.remove_order_item(order.pk, item.pk)
    orders.change_status(order.pk, "cancelled")

    for part in (a, b):
        movements = list(StockMovement.objects.filter(spare_part=part).order_by("id"))
        stock_rows = [row for row in rows_for(part) if row.action == "update" and "stock" in row.changes]
        assert len(stock_rows) == len(movements)
        for movement, row in zip(movements, stock_rows, strict=True):
            old, new = row.changes["stock"]
            assert new - old == movement.delta
            assert new == movement.stock_after
    status_rows = [
        row.changes["status"] for row in rows_for(order) if row.action == "update" and "status" in row.changes
    ]
    assert status_rows == [["pending", "cancelled"]]


def test_order_placement_audits_order_and_bulk_created_lines(api, superuser):
    part = SparePartFactory(stock=5)
    response = api.post(
        "/api/v1/orders/", {"request_id": "r1", "items": [{"spare_part_id": part.pk, "quantity": 2}]}, format="json"
    )
    order = ServiceOrder.objects.get()
    item = ServiceOrderItem.objects.get()
    order_row = rows_for(order).get()
    assert order_row.action == "create"
    assert order_row.changes["request_id"] == [None, "r1"]
    item_row = rows_for(item).get()
    assert item_row.action == "create"
    assert item_row.changes["quantity"] == [None, 2]
    assert item_row.actor == superuser
    assert {order_row.request_id, item_row.request_id} == {response["X-Request-ID"]}


def test_a_rolled_back_change_leaves_no_audit_row(api):
    part = SparePartFactory(stock=1)
    before = Auditor.objects.count()
    response = api.post(
        "/api/v1/orders/", {"request_id": "r", "items": [{"spare_part_id": part.pk, "quantity": 5}]}, format="json"
    )
    assert response.status_code == 409
    assert Auditor.objects.count() == before


def test_management_commands_have_no_actor_unless_given():
    call_command("load_demo_data")
    assert Auditor.objects.exists()
    assert not Auditor.objects.exclude(actor=None).exists()
    system = make_user("system")
    with acting_as(system):
        inventory.create_category(name="Tools")
    assert rows_for(Category.objects.get(name="Tools")).get().actor == system


def test_secrets_are_never_recorded():
    User = get_user_model()
    assert "password" not in {f.name for f in audit.audited_fields(User)}
    assert "digest" not in {f.name for f in audit.audited_fields(ApiToken)}
    # Not audited at all: users and tokens are not business data.
    user = make_user("carol")
    issue_api_token(user=user)
    assert not Auditor.objects.filter(content_type__model__in=["user", "apitoken"]).exists()


def test_audit_api_is_staff_only_and_filters(api, superuser):
    part = SparePartFactory(sku="A-STL-M10-50", price=Decimal("1.00"))
    api.patch("/api/v1/items/A-STL-M10-50", {"price": "2.00"}, format="json")
    response = api.get(f"/api/v1/audit/?model=sparepart&object_id={part.pk}&action=update")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["changes"] == {"price": ["1.00", "2.00"]}  # newest first
    assert results[0]["actor"] == "root"
    assert api.get(f"/api/v1/audit/?actor={superuser.pk}").json()["results"]
    assert api.get("/api/v1/audit/?since=2999-01-01T00:00:00Z").json()["results"] == []

    technician = client_for(make_user("tech"))
    assert technician.get("/api/v1/audit/").status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/audit/").status_code == 401


def test_a_client_cannot_write_another_requests_id_into_the_trail(api):
    """Issue 22: a client-chosen X-Request-ID was stored as the request's id (correlation could be spoofed)."""
    first = api.post("/api/v1/categories/", {"name": "Seals"})
    stolen = first["X-Request-ID"]
    second = api.post("/api/v1/categories/", {"name": "Belts"}, HTTP_X_REQUEST_ID=stolen)
    assert second["X-Request-ID"] != stolen
    assert [row.name for row in Category.objects.order_by("id")] == ["Seals", "Belts"]
    by_id = api.get(f"/api/v1/audit/?request_id={stolen}").json()["results"]
    assert [entry["object_repr"] for entry in by_id] == ["Seals"]
    by_client = api.get(f"/api/v1/audit/?client_request_id={stolen}").json()["results"]
    assert [(entry["object_repr"], entry["request_id"]) for entry in by_client] == [("Belts", second["X-Request-ID"])]


def test_audit_list_costs_constant_queries_and_never_counts(api, django_assert_num_queries):
    for n in range(3):
        SparePartFactory(sku=f"A-STL-M{n}-50")
    api.get("/api/v1/audit/")  # warm caches (content types)
    # The token (with its user), the throttle's count, then the page only: no COUNT(*) of the trail.
    with django_assert_num_queries(3) as few:
        api.get("/api/v1/audit/?limit=3")
    assert (
        "COUNT(" not in few.captured_queries[-1]["sql"].upper() and "audit_auditor" in few.captured_queries[-1]["sql"]
    )
    for n in range(3, 30):
        SparePartFactory(sku=f"A-STL-M{n}-50")
    with django_assert_num_queries(len(few.captured_queries)):
        api.get("/api/v1/audit/?limit=50")


def test_audit_pages_by_cursor_list_every_entry_once_newest_first_while_rows_arrive(api):
    parts = [SparePartFactory(sku=f"A-STL-M{n}-50") for n in range(7)]
    with transaction.atomic():  # rows written together share their timestamp: the cursor tells them apart
        inventory.adjust_stock(parts[0], delta=1)
        inventory.adjust_stock(parts[1], delta=1)
    expected = list(Auditor.objects.order_by("-timestamp", "-id").values_list("id", flat=True))
    seen, url = [], "/api/v1/audit/?limit=4"
    while url:
        page = api.get(url).json()
        assert set(page) == {"next", "previous", "results"}
        seen += [entry["id"] for entry in page["results"]]
        if len(seen) == 4:
            SparePartFactory(sku="A-STL-M99-50")  # a new entry goes on top, not into the next page
        url = page["next"]
    assert seen == expected
    refused = api.get("/api/v1/audit/?limit=4&cursor=%25%25not-base64")
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (400, "invalid_cursor", "cursor")


def test_spare_part_stock_is_audited_even_with_bulk_update_paths():
    part = SparePartFactory(stock=3)
    inventory.create_spare_part(name="x", sku="Z-Z-Z-Z", price="1", stock=0)
    assert SparePart.objects.get(sku="Z-Z-Z-Z").movements.count() == 0
    inventory.adjust_stock(part, delta=-3)
    last = rows_for(part).last()
    assert last.changes == {"stock": [3, 0]}

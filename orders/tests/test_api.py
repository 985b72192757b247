from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from inventory.models import SparePart, StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.api.errors import Conflict, NotFound
from orders import services
from orders.models import OrderStatus, ServiceOrder, ServiceOrderItem

pytestmark = pytest.mark.django_db


def assert_ledger_consistent():
    for part in SparePart.objects.all():
        total = StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"] or 0
        assert part.stock == total, f"{part.sku}: stock {part.stock} != ledger {total}"


def order_payload(*lines, request_id="req-1", **extra):
    return {
        "request_id": request_id,
        "items": [{"spare_part_id": part.pk, "quantity": quantity} for part, quantity in lines],
        **extra,
    }


def test_place_order_takes_stock_and_computes_exact_total(api):
    a = SparePartFactory(price=Decimal("0.33"), stock=10)
    b = SparePartFactory(price=Decimal("19.99"), stock=5)
    response = api.post(
        "/api/v1/orders/",
        order_payload((a, 3), (b, 2), client_name="Ana", client_email="ana@example.com", description="Fix"),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["total"] == "40.97"  # 3 x 0.33 = 0.99 exactly, + 39.98
    assert body["status"] == "pending"
    assert body["request_id"] == "req-1"
    assert body["client_name"] == "Ana"
    assert body["created_by"] == "root"
    assert body["allowed_next_statuses"] == ["in_progress", "cancelled"]
    assert body["images"] == []
    first = body["items"][0]
    assert first["spare_part_id"] == a.pk
    assert first["quantity"] == 3
    assert first["unit_price"] == "0.33"
    assert first["spare_part"]["sku"] == a.sku
    assert first["spare_part"]["category"]["id"] == a.category_id
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.stock, b.stock) == (7, 3)
    movement = a.movements.get(reason=StockMovement.Reason.ORDER)
    assert movement.delta == -3
    assert movement.order_id == body["id"]
    assert_ledger_consistent()


def test_integer_request_id_is_accepted_as_string(api):
    part = SparePartFactory(stock=3)
    response = api.post("/api/v1/orders/", order_payload((part, 1), request_id=12345))
    assert response.status_code == 201
    assert response.json()["request_id"] == "12345"


def test_client_cannot_set_total_status_or_unit_price(api):
    part = SparePartFactory(price=Decimal("2.00"), stock=3)
    payload = order_payload((part, 1), total="0.01", status="completed", created_by="mallory")
    payload["items"][0]["unit_price"] = "0.01"
    body = api.post("/api/v1/orders/", payload).json()
    assert body["total"] == "2.00"
    assert body["status"] == "pending"
    assert body["items"][0]["unit_price"] == "2.00"
    assert body["created_by"] == "root"


def test_unknown_parts_are_404_listing_every_id_and_nothing_is_written(api):
    part = SparePartFactory(stock=3)
    response = api.post(
        "/api/v1/orders/",
        {
            "request_id": "r",
            "items": [
                {"spare_part_id": 88888, "quantity": 1},
                {"spare_part_id": part.pk, "quantity": 1},
                {"spare_part_id": 77777, "quantity": 1},
            ],
        },
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Spare parts not found: [77777, 88888]"
    assert not ServiceOrder.objects.exists()
    part.refresh_from_db()
    assert part.stock == 3


def test_insufficient_stock_is_409_on_the_total_per_part(api):
    part = SparePartFactory(name="Bearing", sku="B-CHR-20-47", stock=5)
    other = SparePartFactory(stock=5)
    response = api.post("/api/v1/orders/", order_payload((other, 1), (part, 3), (part, 3)))
    assert response.status_code == 409
    assert (
        response.json()["detail"] == "Insufficient stock for 'Bearing' (SKU: B-CHR-20-47). Available: 5, Requested: 6"
    )
    assert not ServiceOrder.objects.exists()
    assert not ServiceOrderItem.objects.exists()
    other.refresh_from_db()
    part.refresh_from_db()
    assert (other.stock, part.stock) == (5, 5)
    assert_ledger_consistent()


@pytest.mark.parametrize(
    "items, field_in_error",
    [
        ([], "items"),
        ([{"spare_part_id": 1, "quantity": 0}], "items"),
        ([{"spare_part_id": 1, "quantity": -1}], "items"),
        ([{"spare_part_id": 1, "quantity": 10**9}], "items"),
        ([{"spare_part_id": "abc", "quantity": 1}], "items"),
        ([{"quantity": 1}], "items"),
        ("not a list", "items"),
    ],
)
def test_bad_lines_are_400(api, items, field_in_error):
    SparePartFactory(stock=3)
    response = api.post("/api/v1/orders/", {"request_id": "r", "items": items}, format="json")
    assert response.status_code == 400
    assert field_in_error in response.json()
    assert not ServiceOrder.objects.exists()


def test_too_many_lines_is_400_naming_the_maximum(api, settings):
    part = SparePartFactory(stock=1000)
    items = [{"spare_part_id": part.pk, "quantity": 1}] * (settings.MAX_ORDER_LINES + 1)
    response = api.post("/api/v1/orders/", {"request_id": "r", "items": items}, format="json")
    assert response.status_code == 400
    assert str(settings.MAX_ORDER_LINES) in str(response.json())


def test_request_id_is_required(api):
    part = SparePartFactory(stock=3)
    response = api.post("/api/v1/orders/", {"items": [{"spare_part_id": part.pk, "quantity": 1}]}, format="json")
    assert response.status_code == 400
    assert "request_id" in response.json()


def test_bad_email_is_400(api):
    part = SparePartFactory(stock=3)
    response = api.post("/api/v1/orders/", order_payload((part, 1), client_email="nope"))
    assert response.status_code == 400
    assert "client_email" in response.json()


# --- lifecycle ---------------------------------------------------------------------

TRANSITIONS = [
    ("pending", "in_progress", True),
    ("pending", "cancelled", True),
    ("pending", "completed", False),
    ("in_progress", "completed", True),
    ("in_progress", "cancelled", True),
    ("in_progress", "pending", False),
    ("completed", "cancelled", False),
    ("completed", "in_progress", False),
    ("completed", "pending", False),
    ("cancelled", "pending", False),
    ("cancelled", "in_progress", False),
    ("cancelled", "completed", False),
]

PATHS = {
    "pending": [],
    "in_progress": ["in_progress"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}


@pytest.mark.parametrize("start, target, allowed", TRANSITIONS)
def test_lifecycle_matrix(api, start, target, allowed):
    part = SparePartFactory(stock=10)
    order = services.place_order(request_id="r", items=[{"spare_part_id": part.pk, "quantity": 2}]).order
    for step in PATHS[start]:
        services.change_status(order.pk, step)
    stock_before = SparePart.objects.get(pk=part.pk).stock
    response = api.patch(f"/api/v1/orders/{order.pk}/", {"status": target}, format="json")
    order.refresh_from_db()
    if allowed:
        assert response.status_code == 200, response.json()
        assert order.status == target
    else:
        assert response.status_code == 409
        body = response.json()
        # Labels for people; the codes in `allowed` for programs.
        expected_next = ", ".join(str(status.label) for status in services.ALLOWED_TRANSITIONS[start])
        assert f"Allowed next statuses: {expected_next or 'none (final status)'}." in body["detail"]
        assert "OrderStatus" not in body["detail"]
        assert body["allowed"] == [str(status) for status in services.ALLOWED_TRANSITIONS[start]]
        assert order.status == start
    part.refresh_from_db()
    expected = stock_before + 2 if allowed and target == "cancelled" else stock_before
    assert part.stock == expected
    assert_ledger_consistent()


def test_cancel_returns_every_line_to_stock(api):
    a = SparePartFactory(stock=10)
    b = SparePartFactory(stock=10)
    order = services.place_order(
        request_id="r",
        items=[
            {"spare_part_id": a.pk, "quantity": 2},
            {"spare_part_id": a.pk, "quantity": 1},
            {"spare_part_id": b.pk, "quantity": 4},
        ],
    ).order
    response = api.patch(f"/api/v1/orders/{order.pk}/", {"status": "cancelled"}, format="json")
    assert response.status_code == 200
    assert response.json()["allowed_next_statuses"] == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.stock, b.stock) == (10, 10)
    assert a.movements.filter(reason=StockMovement.Reason.ORDER_CANCELLED).get().delta == 3
    assert_ledger_consistent()


def test_edit_client_fields_and_empty_patch(api):
    part = SparePartFactory(stock=10)
    order = services.place_order(request_id="r", items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    response = api.patch(f"/api/v1/orders/{order.pk}/", {"client_name": "Bob", "client_phone": "123"}, format="json")
    assert response.status_code == 200
    assert response.json()["client_name"] == "Bob"
    assert api.patch(f"/api/v1/orders/{order.pk}/", {}, format="json").status_code == 400
    assert api.patch("/api/v1/orders/999999/", {"client_name": "x"}, format="json").status_code == 404
    assert api.patch("/api/v1/orders/abc/", {"client_name": "x"}, format="json").status_code == 404


def test_add_and_remove_lines_on_open_order(api):
    a = SparePartFactory(price=Decimal("1.10"), stock=10)
    b = SparePartFactory(price=Decimal("2.00"), stock=1)
    order = services.place_order(request_id="r", items=[{"spare_part_id": a.pk, "quantity": 1}]).order
    added = api.post(f"/api/v1/orders/{order.pk}/items/", {"spare_part_id": b.pk, "quantity": 1})
    assert added.status_code == 201, added.json()
    assert added.json()["total"] == "3.10"
    too_many = api.post(f"/api/v1/orders/{order.pk}/items/", {"spare_part_id": b.pk, "quantity": 1})
    assert too_many.status_code == 409
    item_id = next(i for i in added.json()["items"] if i["spare_part_id"] == b.pk)["id"]
    removed = api.delete(f"/api/v1/orders/{order.pk}/items/{item_id}/")
    assert removed.status_code == 200
    assert removed.json()["total"] == "1.10"
    b.refresh_from_db()
    assert b.stock == 1
    assert api.delete(f"/api/v1/orders/{order.pk}/items/999999/").status_code == 404
    last = removed.json()["items"][0]["id"]
    assert api.delete(f"/api/v1/orders/{order.pk}/items/{last}/").status_code == 409
    assert_ledger_consistent()


def test_final_orders_refuse_line_changes(api):
    part = SparePartFactory(stock=10)
    order = services.place_order(request_id="r", items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    services.change_status(order.pk, OrderStatus.CANCELLED)
    response = api.post(f"/api/v1/orders/{order.pk}/items/", {"spare_part_id": part.pk, "quantity": 1})
    assert response.status_code == 409
    assert "its lines can no longer change" in response.json()["detail"]
    details = api.patch(f"/api/v1/orders/{order.pk}/", {"client_name": "x"}, format="json")
    assert details.status_code == 409
    assert "its client details can no longer change" in details.json()["detail"]


# --- limits and retries ----------------------------------------------------------------

LARGEST_TOTAL = Decimal("9999999999.99")  # ServiceOrder.total: 12 digits, 2 of them decimals


def test_an_order_whose_total_the_column_cannot_hold_is_400_and_writes_nothing(api):
    dear = SparePartFactory(price=Decimal("99999999.99"), stock=1000)
    fits = api.post("/api/v1/orders/", order_payload((dear, 100), request_id="fits"), format="json")
    assert fits.status_code == 201, fits.json()
    assert Decimal(fits.json()["total"]) == Decimal("9999999999.00") <= LARGEST_TOTAL

    response = api.post("/api/v1/orders/", order_payload((dear, 101), request_id="big"), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["field"]) == ("total_too_large", "items")
    assert str(LARGEST_TOTAL) in body["detail"]
    assert not ServiceOrder.objects.filter(request_id="big").exists()
    dear.refresh_from_db()
    assert dear.stock == 900
    assert_ledger_consistent()


def test_a_line_that_would_overflow_the_total_is_400_and_gives_no_stock_away(api):
    dear = SparePartFactory(price=Decimal("99999999.99"), stock=1000)
    order = services.place_order(request_id="r", items=[{"spare_part_id": dear.pk, "quantity": 99}]).order
    response = api.post(f"/api/v1/orders/{order.pk}/items/", {"spare_part_id": dear.pk, "quantity": 2}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "total_too_large"
    dear.refresh_from_db()
    order.refresh_from_db()
    assert (dear.stock, order.items.count(), order.total) == (901, 1, Decimal("9899999999.01"))
    assert_ledger_consistent()


def test_a_retry_after_its_order_took_the_last_units_gets_that_order(api):
    """The answer to an order can be lost after its commit; a retry under a new key must not be refused."""
    part = SparePartFactory(stock=3)
    first = api.post("/api/v1/orders/", order_payload((part, 3), request_id="last-units"), HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201
    retry = api.post("/api/v1/orders/", order_payload((part, 3), request_id="last-units"), HTTP_IDEMPOTENCY_KEY="k2")
    assert retry.status_code == 201, retry.content
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert ServiceOrder.objects.filter(request_id="last-units").count() == 1
    part.refresh_from_db()
    assert part.stock == 0

    other_lines = api.post(
        "/api/v1/orders/", order_payload((part, 1), request_id="last-units"), HTTP_IDEMPOTENCY_KEY="k3"
    )
    assert other_lines.status_code == 409
    assert (other_lines.json()["code"], other_lines.json()["field"]) == ("duplicate_request", "request_id")
    # A new order for the same part is still refused for its stock.
    new = api.post("/api/v1/orders/", order_payload((part, 1), request_id="new"), format="json")
    assert (new.status_code, new.json()["code"]) == (409, "insufficient_stock")


def test_a_used_request_id_with_an_unknown_part_is_a_request_id_conflict():
    part = SparePartFactory(stock=5)
    services.place_order(request_id="r", items=[{"spare_part_id": part.pk, "quantity": 1}])
    with pytest.raises(Conflict) as refused:
        services.place_order(request_id="r", items=[{"spare_part_id": part.pk + 1000, "quantity": 1}])
    assert (refused.value.code, refused.value.field) == ("duplicate_request", "request_id")
    with pytest.raises(NotFound):  # a new request_id: the unknown part is the answer
        services.place_order(request_id="r2", items=[{"spare_part_id": part.pk + 1000, "quantity": 1}])


# --- lists -----------------------------------------------------------------------------


def test_order_list_filters(api):
    a = SparePartFactory(sku="A-STL-M10-50", stock=100)
    b = SparePartFactory(sku="B-CHR-20-47", stock=100)
    o1 = services.place_order(
        request_id="one", client_name="Alice", items=[{"spare_part_id": a.pk, "quantity": 1}]
    ).order
    o2 = services.place_order(request_id="two", client_name="Bob", items=[{"spare_part_id": b.pk, "quantity": 5}]).order
    services.change_status(o2.pk, OrderStatus.IN_PROGRESS)

    def ids(query):
        response = api.get(f"/api/v1/orders/?{query}")
        assert response.status_code == 200, response.json()
        return {o["id"] for o in response.json()["results"]}

    assert ids("status=in_progress") == {o2.pk}
    assert ids("status=pending&status=in_progress") == {o1.pk, o2.pk}
    assert ids("search=alice") == {o1.pk}
    assert ids("sku=B-CHR-20-47") == {o2.pk}
    assert ids("request_id=one") == {o1.pk}
    assert ids("created_after=2000-01-01T00:00:00Z") == {o1.pk, o2.pk}
    assert ids("created_before=2000-01-01T00:00:00Z") == set()
    ordered = api.get("/api/v1/orders/?ordering=-total").json()["results"]
    assert [o["id"] for o in ordered] == [o2.pk, o1.pk]
    assert api.get("/api/v1/orders/?status=nope").status_code == 400


def test_order_list_costs_constant_queries(api, django_assert_num_queries):
    parts = [SparePartFactory(stock=10_000) for _ in range(3)]

    def make_orders(n, start):
        for i in range(start, start + n):
            services.place_order(request_id=f"r{i}", items=[{"spare_part_id": p.pk, "quantity": 1} for p in parts])

    make_orders(2, 0)
    api.get("/api/v1/orders/")  # warm caches (content types)
    # The token (with its user), the throttle's count, the count, the page, then its lines (with parts and
    # categories) and images.
    with django_assert_num_queries(6) as small:
        assert len(api.get("/api/v1/orders/?limit=50").json()["results"]) == 2
    make_orders(48, 2)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api.get("/api/v1/orders/?limit=50").json()["results"]) == 50


def test_place_order_queries_do_not_grow_with_lines(superuser, django_assert_num_queries):
    parts = [SparePartFactory(stock=100) for _ in range(20)]
    services.place_order(request_id="warm", items=[{"spare_part_id": parts[0].pk, "quantity": 1}], created_by=superuser)
    with CaptureQueriesContext(connection) as one:
        services.place_order(
            request_id="one", items=[{"spare_part_id": parts[0].pk, "quantity": 1}], created_by=superuser
        )
    with django_assert_num_queries(len(one.captured_queries)):
        services.place_order(
            request_id="twenty", items=[{"spare_part_id": p.pk, "quantity": 1} for p in parts], created_by=superuser
        )
    # Two statements (savepoints aside): the parts locked with the new rows' ids, then every write.
    statements = [q["sql"] for q in one.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 2, statements
    assert "FOR UPDATE" in statements[0] and "nextval" in statements[0]
    assert "UPDATE inventory_sparepart" in statements[1] and "INSERT INTO audit_auditor" in statements[1]


def test_fast_order_representation_matches_the_generic_serializer(superuser):
    from rest_framework import serializers

    from orders.selectors import orders_with_details
    from orders.serializers import ServiceOrderItemSerializer, ServiceOrderSerializer

    a = SparePartFactory(price=Decimal("0.33"), stock=10)
    b = SparePartFactory(price=Decimal("12.50"), stock=10, category=None)
    placed = services.place_order(
        request_id="r",
        client_email="",
        created_by=superuser,
        items=[{"spare_part_id": a.pk, "quantity": 3}, {"spare_part_id": b.pk, "quantity": 1}],
    ).order
    unowned = services.place_order(request_id="s", items=[{"spare_part_id": a.pk, "quantity": 1}]).order
    for order in orders_with_details().filter(pk__in=[placed.pk, unowned.pk]):
        serializer = ServiceOrderSerializer()
        generic = dict(serializers.ModelSerializer.to_representation(serializer, order))
        generic["items"] = [
            dict(serializers.ModelSerializer.to_representation(ServiceOrderItemSerializer(), item))
            for item in order.items.all()
        ]
        assert serializer.to_representation(order) == generic


@pytest.mark.parametrize("ordering", ["total", "-total", "status,-date_updated"])
def test_paging_a_sort_with_ties_lists_every_order_once(api, ordering):
    part = SparePartFactory(stock=100)
    placed = [
        services.place_order(request_id=f"tie-{n}", items=[{"spare_part_id": part.pk, "quantity": 1}]).order.pk
        for n in range(12)
    ]
    seen = []
    for offset in range(0, 12, 5):
        page = api.get(f"/api/v1/orders/?ordering={ordering}&limit=5&offset={offset}").json()
        seen += [order["id"] for order in page["results"]]
    assert sorted(seen) == sorted(placed)
    # Ties are decided by id, in the direction of the last key asked for.
    assert seen == sorted(placed, reverse=ordering.split(",")[-1].startswith("-"))


def test_an_ordering_that_names_the_id_is_kept_as_asked(api):
    part = SparePartFactory(stock=100)
    placed = [
        services.place_order(request_id=f"id-{n}", items=[{"spare_part_id": part.pk, "quantity": 1}]).order.pk
        for n in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/v1/orders/?ordering=-id,total").json()
    assert [order["id"] for order in page["results"]] == sorted(placed, reverse=True)
    listing = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"])
    assert listing.count('"orders_serviceorder"."id"') >= 1
    assert listing.split("ORDER BY")[1].split("LIMIT")[0].strip().endswith('"orders_serviceorder"."total" ASC')


def test_an_order_patch_with_an_old_etag_is_refused(api):
    part = SparePartFactory(stock=5)
    order = services.place_order(request_id="etag", items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    etag = api.get(f"/api/v1/orders/{order.pk}/")["ETag"]
    moved = api.patch(f"/api/v1/orders/{order.pk}/", {"status": "in_progress"}, format="json", HTTP_IF_MATCH=etag)
    assert moved.status_code == 200
    stale = api.patch(f"/api/v1/orders/{order.pk}/", {"client_name": "Old"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"
    order.refresh_from_db()
    assert (order.status, order.client_name) == ("in_progress", "")

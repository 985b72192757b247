from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from inventory.models import Category, SparePart, StockMovement
from inventory.tests.factories import CategoryFactory, SparePartFactory

pytestmark = pytest.mark.django_db


def ledger_sum(part) -> int:
    return StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"] or 0


# --- categories ----------------------------------------------------------------


def test_category_crud(api):
    created = api.post("/api/v1/categories/", {"name": "Bearings", "description": "Ball bearings"})
    assert created.status_code == 201, created.json()
    cid = created.json()["id"]
    assert api.get(f"/api/v1/categories/{cid}/").json()["name"] == "Bearings"
    updated = api.patch(f"/api/v1/categories/{cid}/", {"description": "All bearings"})
    assert updated.status_code == 200
    assert updated.json()["description"] == "All bearings"
    listing = api.get("/api/v1/categories/")
    assert listing.json()["count"] == 1
    assert api.delete(f"/api/v1/categories/{cid}/").status_code == 204
    assert not Category.objects.exists()


def test_empty_category_patch_is_400_no_fields_like_items(api):
    category = CategoryFactory(name="Seals")
    before = category.date_updated
    response = api.patch(f"/api/v1/categories/{category.pk}/", {}, format="json")
    assert response.status_code == 400
    assert (response.json()["detail"], response.json()["code"]) == ("No fields to update.", "no_fields")
    category.refresh_from_db()
    assert category.date_updated == before


def test_category_name_is_unique_case_insensitively(api):
    assert api.post("/api/v1/categories/", {"name": "Seals"}).status_code == 201
    duplicate = api.post("/api/v1/categories/", {"name": "  sEALS "})
    assert duplicate.status_code == 400
    assert "already exists" in duplicate.json()["detail"]
    assert Category.objects.count() == 1


def test_deleting_a_category_keeps_its_parts(api):
    part = SparePartFactory()
    category_id = part.category_id
    assert api.delete(f"/api/v1/categories/{category_id}/").status_code == 204
    part.refresh_from_db()
    assert part.category_id is None


# --- parts: seed contract ----------------------------------------------------------


def test_create_part_returns_embedded_category_and_opening_movement(api):
    category = CategoryFactory(name="Fasteners")
    response = api.post(
        "/api/v1/items/",
        {"name": "Hex bolt", "sku": "  A-STL-M10-50 ", "price": "0.45", "stock": 500, "category_id": category.pk},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sku"] == "A-STL-M10-50"
    assert body["price"] == "0.45"
    assert body["stock"] == 500
    assert body["category"] == {"id": category.pk, "name": "Fasteners", "description": category.description}
    part = SparePart.objects.get(sku="A-STL-M10-50")
    assert ledger_sum(part) == 500
    assert part.movements.get().reason == StockMovement.Reason.INITIAL


@pytest.mark.parametrize("price", ["-0", "-0.00", "0"])
def test_a_zero_price_is_written_0_00_on_create_and_after(api, price):
    created = api.post("/api/v1/items/", {"name": "Free", "sku": "A-STL-M10-50", "price": price}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["price"] == "0.00"
    assert api.get("/api/v1/items/A-STL-M10-50/").json()["price"] == "0.00"
    patched = api.patch("/api/v1/items/A-STL-M10-50/", {"price": price}, format="json")
    assert patched.json()["price"] == "0.00"


@pytest.mark.parametrize("sku", ["A-STL-M10", "A-STL-M10-50-X", "A--M10-50", "ASTLM1050", "", "A-STL-M10-"])
def test_invalid_sku_is_refused_with_the_expected_format(api, sku):
    response = api.post("/api/v1/items/", {"name": "x", "sku": sku, "price": "1.00", "stock": 1})
    assert response.status_code == 400
    text = str(response.json())
    assert "[CLASS]-[MATERIAL]-[SIZE]-[LENGTH]" in text or "blank" in text
    assert not SparePart.objects.exists()


@pytest.mark.parametrize(
    ("sku", "shown"),
    [
        ("A/B-C-D-E", "'A/B-C-D-E'"),  # no /api/v1/items/{sku}/ route could reach it
        ("A B-C-D-E", "'A B-C-D-E'"),
        ("A\nB-C-D-E", "'A\\nB-C-D-E'"),
        ("A\u00a0B-C-D-E", "'A\\xa0B-C-D-E'"),
        ("A\u200bB-C-D-E", "'A\\u200bB-C-D-E'"),  # looks exactly like AB-C-D-E
        ("\u2060A-B-C-D", "'\\u2060A-B-C-D'"),
        ("A-B-C-D\U000e0041", "'A-B-C-D\\U000e0041'"),
    ],
)
def test_sku_with_slash_whitespace_control_or_format_characters_is_400(api, sku, shown):
    SparePartFactory(sku="Z-STL-M1-1")
    response = api.post("/api/v1/items/", {"name": "x", "sku": sku, "price": "1.00"}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == (
        f"Invalid SKU format. Expected format: [CLASS]-[MATERIAL]-[SIZE]-[LENGTH], but got {shown}: "
        "a SKU may not contain '/', whitespace, control or format characters"
    )
    assert response.json()["code"] == "invalid_sku"
    renamed = api.patch("/api/v1/items/Z-STL-M1-1/", {"sku": sku}, format="json")
    assert renamed.status_code == 400 and "read-only" in renamed.json()["sku"][0]
    assert list(SparePart.objects.values_list("sku", flat=True)) == ["Z-STL-M1-1"]


def test_the_schemas_sku_pattern_is_the_rule():
    """For every character of the Basic Multilingual Plane (surrogates aside) in a SKU's part."""
    import re

    from inventory.serializers import SKU_PATTERN
    from inventory.validators import sku_error

    pattern = re.compile(SKU_PATTERN)
    disagree = [
        f"U+{code:04X}"
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF
        and (pattern.search(f"A{chr(code)}B-C-D-E") is not None) != (sku_error(f"A{chr(code)}B-C-D-E") is None)
    ]
    assert disagree == []
    assert pattern.search(" A-STL-M10-50 ") and not pattern.search("A-STL-M10")


def test_the_demo_datas_skus_follow_the_rule():
    from inventory.validators import sku_error
    from maintenance.dev.management.commands.load_demo_data import PARTS

    assert [sku for _category, _name, sku, *_ in PARTS if sku_error(sku)] == []


def test_invalid_sku_message_names_the_value(api):
    response = api.post("/api/v1/items/", {"name": "x", "sku": "A-B-C", "price": "1.00"})
    assert response.json()["detail"] == (
        "Invalid SKU format. Expected format: [CLASS]-[MATERIAL]-[SIZE]-[LENGTH], but got 'A-B-C'"
    )
    assert response.json()["field"] == "sku"


def test_duplicate_sku_is_400_already_exists(api):
    SparePartFactory(sku="A-STL-M10-50")
    response = api.post("/api/v1/items/", {"name": "dup", "sku": "A-STL-M10-50", "price": "1.00"})
    assert response.status_code == 400
    assert "already exists" in response.json()["detail"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "x", "sku": "A-B-C-D", "price": "-1.00"}, "price"),
        ({"name": "x", "sku": "A-B-C-D", "price": "abc"}, "price"),
        ({"name": "x", "sku": "A-B-C-D", "price": "1.00", "stock": -5}, "stock"),
        ({"name": "x", "sku": "A-B-C-D", "price": "1.00", "stock": "many"}, "stock"),
        ({"name": "x" * 201, "sku": "A-B-C-D", "price": "1.00"}, "name"),
        ({"name": "x", "sku": "A-B-C-D", "price": "1.00", "category_id": 999999}, "category_id"),
        ({"sku": "A-B-C-D", "price": "1.00"}, "name"),
    ],
)
def test_bad_part_input_is_400_naming_the_field(api, payload, field):
    response = api.post("/api/v1/items/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not SparePart.objects.exists()


def test_malformed_json_is_400(api):
    response = api.generic("POST", "/api/v1/items/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_patch_without_trailing_slash_changes_price_and_records_stock_adjustment(api):
    part = SparePartFactory(sku="A-STL-M10-50", stock=10, price=Decimal("1.00"))
    response = api.patch("/api/v1/items/A-STL-M10-50", {"price": "12.50", "stock": 7}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["price"] == "12.50"
    assert response.json()["stock"] == 7
    part.refresh_from_db()
    assert part.stock == 7
    adjustment = part.movements.filter(reason=StockMovement.Reason.ADJUSTMENT).get()
    assert adjustment.delta == -3
    assert adjustment.stock_after == 7
    assert ledger_sum(part) == part.stock


def test_empty_patch_is_400_no_fields(api):
    SparePartFactory(sku="A-STL-M10-50")
    response = api.patch("/api/v1/items/A-STL-M10-50", {}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "No fields to update."


def test_unknown_sku_is_404(api):
    assert api.get("/api/v1/items/X-X-X-X/").status_code == 404
    assert api.patch("/api/v1/items/X-X-X-X", {"price": "1"}, format="json").status_code == 404


def test_delete_part(api):
    SparePartFactory(sku="A-STL-M10-50")
    assert api.delete("/api/v1/items/A-STL-M10-50/").status_code == 204
    assert not SparePart.objects.exists()


def test_delete_part_used_on_an_order_is_409(api):
    from orders.services import place_order

    part = SparePartFactory(sku="A-STL-M10-50", stock=5)
    place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 1}])
    response = api.delete("/api/v1/items/A-STL-M10-50/")
    assert response.status_code == 409
    assert SparePart.objects.filter(pk=part.pk).exists()


def test_a_line_that_slips_past_the_check_is_still_409_part_in_use(api, monkeypatch):
    """The last line: the foreign key's PROTECT refuses, and the client gets the same 409."""
    from orders.services import place_order

    part = SparePartFactory(sku="A-STL-M10-50", stock=5)
    delete = SparePart.delete

    def delete_after_a_line_appeared(self, *args, **kwargs):
        place_order(request_id="r1", items=[{"spare_part_id": self.pk, "quantity": 1}])
        return delete(self, *args, **kwargs)

    monkeypatch.setattr(SparePart, "delete", delete_after_a_line_appeared)
    response = api.delete("/api/v1/items/A-STL-M10-50/")
    assert response.status_code == 409
    assert response.json()["code"] == "part_in_use"
    assert SparePart.objects.filter(pk=part.pk).exists()


# --- stock adjustments and ledger ---------------------------------------------------


def test_adjust_stock_and_ledger_newest_first(api):
    part = SparePartFactory(sku="A-STL-M10-50", stock=10)
    r1 = api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": 5, "reason": "receipt", "note": "PO 17"})
    assert r1.status_code == 200, r1.json()
    assert r1.json()["stock"] == 15
    r2 = api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": -3})
    assert r2.json()["stock"] == 12
    ledger = api.get("/api/v1/items/A-STL-M10-50/movements/").json()
    assert ledger["count"] == 3
    assert [m["delta"] for m in ledger["results"]] == [-3, 5, 10]
    assert ledger["results"][1]["note"] == "PO 17"
    assert ledger["results"][0]["actor"] == "root"
    part.refresh_from_db()
    assert ledger_sum(part) == part.stock == 12


def test_adjust_stock_never_below_zero(api):
    part = SparePartFactory(sku="A-STL-M10-50", stock=2)
    response = api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": -3})
    assert response.status_code == 409
    assert "Available: 2" in response.json()["detail"]
    part.refresh_from_db()
    assert part.stock == 2
    assert part.movements.count() == 1


@pytest.mark.parametrize("payload", [{"delta": 0}, {"delta": "x"}, {}, {"delta": 1, "reason": "order"}])
def test_adjust_stock_bad_input(api, payload):
    SparePartFactory(sku="A-STL-M10-50", stock=2)
    assert api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", payload).status_code == 400


def test_adjust_stock_never_above_the_maximum(api):
    from inventory.models import MAX_STOCK

    part = SparePartFactory(sku="A-STL-M10-50", stock=2)
    response = api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": MAX_STOCK})
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "stock_above_maximum"
    assert f"maximum of {MAX_STOCK}" in body["detail"]
    assert (body["available"], body["added"], body["max_stock"]) == (2, MAX_STOCK, MAX_STOCK)
    part.refresh_from_db()
    assert part.stock == 2 and part.movements.count() == 1
    # Up to the maximum itself is fine; one more is refused the same way.
    reached = api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": MAX_STOCK - 2})
    assert reached.status_code == 200 and reached.json()["stock"] == MAX_STOCK
    assert api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": 1}).status_code == 409
    part.refresh_from_db()
    assert part.stock == MAX_STOCK == ledger_sum(part)


def test_stock_returned_by_a_cancelled_order_is_refused_above_the_maximum(api):
    from inventory.models import MAX_STOCK
    from orders.services import place_order

    part = SparePartFactory(sku="A-STL-M10-50", stock=5)
    order = place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 3}]).order
    assert api.post("/api/v1/items/A-STL-M10-50/adjust-stock/", {"delta": MAX_STOCK - 3}).status_code == 200
    response = api.patch(f"/api/v1/orders/{order.pk}/", {"status": "cancelled"}, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "stock_above_maximum"
    order.refresh_from_db()
    part.refresh_from_db()
    assert (order.status, part.stock) == ("pending", MAX_STOCK - 1)


def test_the_guarded_update_refuses_stock_above_the_maximum_without_overflowing():
    """A caller that did not lock (a stale stock in memory): the UPDATE sums in bigint and refuses."""
    from django.db import transaction

    from inventory import services
    from inventory.models import MAX_STOCK
    from maintenance.api.errors import InsufficientStock

    part = SparePartFactory(stock=MAX_STOCK)
    stale = SparePart.objects.get(pk=part.pk)
    stale.stock = 0
    with pytest.raises(InsufficientStock), transaction.atomic():
        services.apply_stock_deltas({part.pk: MAX_STOCK}, reason="adjustment", locked={part.pk: stale})
    part.refresh_from_db()
    assert part.stock == MAX_STOCK and part.movements.count() == 1


@pytest.mark.parametrize("field", ["stock", "min_stock"])
def test_counts_above_the_maximum_are_refused_by_the_service(field):
    from inventory import services
    from inventory.models import MAX_STOCK
    from maintenance.api.errors import InvalidInput

    part = SparePartFactory(stock=1)
    with pytest.raises(InvalidInput, match=f"{field} must be at most {MAX_STOCK}") as refused:
        services.update_spare_part(part, **{field: MAX_STOCK + 1})
    assert refused.value.field == field
    with pytest.raises(InvalidInput, match=f"{field} must be at most {MAX_STOCK}"):
        services.create_spare_part(name="x", sku="B-STL-M1-1", price=1, **{field: MAX_STOCK + 1})
    part.refresh_from_db()
    assert (part.stock, part.min_stock) == (1, 0)
    assert not SparePart.objects.filter(sku="B-STL-M1-1").exists()


def test_the_maximum_migration_names_parts_already_above_it():
    """Stock could pass the maximum before its constraint: the migration names those parts, changes nothing."""
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("inventory.migrations.0005_sparepart_stock_lte_max")
    with connection.cursor() as cursor:  # as it was before the migration (rolled back with the test)
        cursor.execute("ALTER TABLE inventory_sparepart DROP CONSTRAINT inventory_sparepart_stock_lte_max")
    part = SparePartFactory(sku="A-STL-M10-50", stock=2)
    migration.refuse_stock_above_the_maximum(apps, None)  # nothing above: passes
    SparePart.objects.filter(pk=part.pk).update(stock=2_000_000_002)
    with pytest.raises(RuntimeError, match=r"\[\('A-STL-M10-50', 2000000002\)\]"):
        migration.refuse_stock_above_the_maximum(apps, None)


def test_stock_check_constraint_is_in_the_database():
    from django.db import IntegrityError, transaction

    part = SparePartFactory(stock=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        SparePart.objects.filter(pk=part.pk).update(stock=-1)
    with pytest.raises(IntegrityError, match="inventory_sparepart_stock_lte_max"), transaction.atomic():
        SparePart.objects.filter(pk=part.pk).update(stock=2_000_000_001)


# --- lists: pagination, filters, search, ordering, query budget ------------------


def test_list_pagination_envelope_and_skip_synonym(api):
    for n in range(7):
        SparePartFactory(sku=f"A-STL-M{n}-50")
    page = api.get("/api/v1/items/?limit=3&skip=3").json()
    assert page["count"] == 7
    assert [p["sku"] for p in page["results"]] == ["A-STL-M3-50", "A-STL-M4-50", "A-STL-M5-50"]
    assert "offset=6" in page["next"]
    assert api.get("/api/v1/items/?limit=100000").json()["count"] == 7  # capped, not an error


def test_list_filters_search_and_ordering(api):
    bearings = CategoryFactory(name="Bearings")
    SparePartFactory(
        name="Ball bearing", sku="B-CHR-20-47", price=Decimal("4.00"), stock=2, min_stock=5, category=bearings
    )
    SparePartFactory(name="Bolt", sku="A-STL-M10-50", price=Decimal("0.50"), stock=100, min_stock=10)
    SparePartFactory(name="Nut", sku="N-STL-M10-0", price=Decimal("0.10"), stock=10, min_stock=10)

    def skus(query):
        response = api.get(f"/api/v1/items/?{query}")
        assert response.status_code == 200, response.json()
        return [p["sku"] for p in response.json()["results"]]

    assert skus(f"category={bearings.pk}") == ["B-CHR-20-47"]
    assert skus("low_stock=true") == ["B-CHR-20-47", "N-STL-M10-0"]
    assert skus("low_stock=false") == ["A-STL-M10-50"]
    assert skus("min_price=0.20&max_price=1") == ["A-STL-M10-50"]
    assert skus("search=bolt") == ["A-STL-M10-50"]
    assert skus("search=B-CHR") == ["B-CHR-20-47"]
    assert skus("ordering=price") == ["N-STL-M10-0", "A-STL-M10-50", "B-CHR-20-47"]
    assert skus("ordering=-stock") == ["A-STL-M10-50", "N-STL-M10-0", "B-CHR-20-47"]
    assert api.get("/api/v1/items/?min_price=abc").status_code == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("max_price=-1E%2B999999", "no more than 10 digits in total"),
        ("max_price=-1e131072", "no more than 10 digits in total"),
        ("min_price=1e-16384", "no more than 10 digits in total"),
        ("min_price=0.001", "no more than 2 decimal places"),
        ("max_price=123456789", "no more than 8 digits before the decimal point"),
    ],
)
def test_price_filters_out_of_a_prices_range_are_400_naming_the_parameter(api, query, message):
    """They reached PostgreSQL as numerics it cannot hold (a 500)."""
    SparePartFactory(sku="A-STL-M10-50", price=Decimal("10.00"))
    response = api.get(f"/api/v1/items/?{query}")
    assert response.status_code == 400, response.content
    (parameter,) = response.json()
    assert parameter == query.split("=")[0]
    assert message in response.json()[parameter][0]
    assert api.get("/api/v1/items/?min_price=-5&max_price=99999999.99").json()["count"] == 1


@pytest.mark.parametrize("ordering", ["stock", "-stock", "price,-min_stock", "name", "-date_updated"])
def test_paging_through_repeated_sort_values_shows_every_part_once(api, ordering):
    """Ties are broken by the primary key, in the SQL page: no part twice, none skipped."""
    import datetime

    parts = [
        SparePartFactory(sku=f"A-STL-M{n}-50", name="Same", stock=n % 2, min_stock=0, price=Decimal("1.00"))
        for n in range(23)
    ]
    SparePart.objects.update(date_updated=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    pages = [
        api.get(f"/api/v1/items/?ordering={ordering}&limit=5&offset={offset}").json() for offset in range(0, 25, 5)
    ]
    listed = [part["id"] for page in pages for part in page["results"]]
    # Ties go by the id, in the direction of the last key.
    keys = {"stock": lambda p: (p.stock, p.pk), "-stock": lambda p: (-p.stock, -p.pk), "-date_updated": lambda p: -p.pk}
    keys["price,-min_stock"] = keys["-date_updated"]  # all equal: the id alone, descending
    expected = sorted(parts, key=keys.get(ordering, lambda p: p.pk))
    assert listed == [part.pk for part in expected]


def test_categories_page_through_equal_dates_once_each(api):
    import datetime

    created = [CategoryFactory(name=f"Category {n:02d}") for n in range(11)]
    Category.objects.update(date_created=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    listed = [
        category["id"]
        for offset in range(0, 12, 3)
        for category in api.get(f"/api/v1/categories/?ordering=-date_created&limit=3&offset={offset}").json()["results"]
    ]
    assert listed == sorted((category.pk for category in created), reverse=True)


@pytest.mark.parametrize(
    "ordering, order_by",
    [("sku", None), ("stock,-sku", None), ("-stock", "DESC"), ("price,-min_stock", "DESC"), ("name", "ASC")],
)
def test_an_ordering_a_unique_column_decides_gets_no_tie_breaker(api, ordering, order_by):
    """The catalogue's order by SKU keeps its plain ORDER BY sku: the SKU index serves it."""
    SparePartFactory()
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"/api/v1/items/?ordering={ordering}").status_code == 200
    page_sql = queries.captured_queries[-1]["sql"]
    clause = page_sql.split("ORDER BY")[-1].split("LIMIT")[0].strip()
    if order_by is None:
        assert '"id"' not in clause, clause
    else:
        assert clause.endswith(f'"inventory_sparepart"."id" {order_by}'), clause


def test_part_list_costs_constant_queries(api, django_assert_num_queries):
    for n in range(5):
        SparePartFactory(sku=f"A-STL-M{n}-50")
    api.get("/api/v1/items/?limit=5")  # warm caches (content types)
    # The token (with its user), the throttle's count, the count, the page (with the categories joined).
    with django_assert_num_queries(4) as small:
        assert len(api.get("/api/v1/items/?limit=5").json()["results"]) == 5
    for n in range(5, 100):
        SparePartFactory(sku=f"A-STL-M{n}-50")
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api.get("/api/v1/items/?limit=100").json()["results"]) == 100


def test_fast_part_representation_matches_the_generic_serializer():
    from rest_framework import serializers

    from inventory.serializers import SparePartSerializer

    parts = [
        SparePartFactory(price=Decimal("0.5"), stock=3, min_stock=5),
        SparePartFactory(price=Decimal("1234.00"), stock=9, min_stock=1, category=None),
    ]
    for part in SparePart.objects.select_related("category").filter(pk__in=[p.pk for p in parts]):
        serializer = SparePartSerializer()
        generic = serializers.ModelSerializer.to_representation(serializer, part)
        assert serializer.to_representation(part) == dict(generic)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu"])
def test_the_list_shows_parts_as_the_generic_serializer_does(api, zone, settings):
    """The catalogue page, written by the tuned SparePartSerializer, shows parts as DRF's generic path does."""
    import datetime

    from django.utils import timezone
    from rest_framework import serializers

    from inventory.serializers import SparePartSerializer

    settings.TIME_ZONE = zone
    category = CategoryFactory(name='Valves "Ü" \\ \u2028', description="line\nbreak\ttab")
    SparePartFactory(sku="A-STL-M10-50", price=Decimal("0.5"), stock=3, min_stock=5, category=category)
    SparePartFactory(sku="B-STL-M10-50", price=Decimal("1234.00"), stock=9, min_stock=1, category=None)
    SparePartFactory(sku="C-STL-M10-50", name="Ünïcødé ✓", price=Decimal("99999999.99"), stock=5, min_stock=5)
    # A winter and a summer date, and timestamps with and without microseconds.
    SparePart.objects.filter(sku="A-STL-M10-50").update(
        date_created=datetime.datetime(2026, 1, 15, 10, 30, tzinfo=datetime.UTC),
        date_updated=datetime.datetime(2026, 7, 1, 23, 59, 59, 1, tzinfo=datetime.UTC),
    )
    SparePart.objects.filter(sku="B-STL-M10-50").update(
        date_created=datetime.datetime(1999, 12, 31, 23, 0, 0, 500000, tzinfo=datetime.UTC)
    )
    for ordering in ("", "&ordering=-price", "&ordering=stock,-sku"):
        response = api.get(f"/api/v1/items/?limit=10{ordering}")
        listed = response.json()["results"]
        with timezone.override(zone):
            serializer = SparePartSerializer()
            queryset = SparePart.objects.select_related("category").order_by(
                *(ordering.removeprefix("&ordering=").split(",") if ordering else ["sku"])
            )
            generic = [dict(serializers.ModelSerializer.to_representation(serializer, part)) for part in queryset]
        assert listed == generic
        assert [part["sku"] for part in listed] == [part.sku for part in queryset]
    assert listed[0]["date_created"].endswith("Z") == (zone == "UTC")


def test_the_list_pages_and_counts_like_the_generic_paginator(api):
    for n in range(7):
        SparePartFactory(sku=f"A-STL-M{n}-50", stock=n)
    first = api.get("/api/v1/items/?limit=3").json()
    assert first["count"] == 7
    assert [part["sku"] for part in first["results"]] == ["A-STL-M0-50", "A-STL-M1-50", "A-STL-M2-50"]
    assert first["previous"] is None and "offset=3" in first["next"]
    last = api.get("/api/v1/items/?limit=3&offset=6").json()
    assert [part["sku"] for part in last["results"]] == ["A-STL-M6-50"]
    assert last["next"] is None and "offset=3" in last["previous"]
    beyond = api.get("/api/v1/items/?limit=3&offset=50").json()
    assert beyond["count"] == 7 and beyond["results"] == []
    filtered = api.get("/api/v1/items/?search=M3&limit=3").json()
    assert filtered["count"] == 1 and filtered["results"][0]["sku"] == "A-STL-M3-50"
    empty = api.get("/api/v1/items/?search=nothing-like-it").json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    "query", ["offset=9223372036854775808", "skip=99999999999999999999", "offset=9223372036854775807"]
)
def test_an_offset_beyond_postgresqls_bigint_is_an_empty_page(api, query):
    """The page's OFFSET is written into the SQL: above a bigint PostgreSQL refused it (a 500)."""
    SparePartFactory(sku="A-STL-M10-50")
    response = api.get(f"/api/v1/items/?limit=5&{query}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["results"], body["next"]) == (1, [], None)
    # The other lists answer the same for the same offset.
    categories = api.get(f"/api/v1/categories/?limit=5&{query}").json()
    assert (categories["count"], categories["results"]) == (1, [])


def test_a_request_without_filter_parameters_builds_no_filter_set(api, monkeypatch):
    from inventory.filters import SparePartFilter

    built = []
    original = SparePartFilter.__init__

    def counting_init(self, *args, **kwargs):
        built.append(kwargs.get("data"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(SparePartFilter, "__init__", counting_init)
    SparePartFactory(sku="A-STL-M10-50", stock=1, min_stock=5)
    assert api.get("/api/v1/items/?limit=5&ordering=sku&search=A").status_code == 200
    assert built == []
    assert api.get("/api/v1/items/?low_stock=true").json()["count"] == 1
    assert len(built) == 1


def test_the_browsable_catalogue_shows_the_page_and_its_controls(staff):
    for n in range(3):
        SparePartFactory(sku=f"A-STL-M{n}-50")
    page = staff.get("/api/v1/items/?limit=2", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"A-STL-M1-50" in page.content and b"A-STL-M2-50" not in page.content
    assert b"&quot;count&quot;: 3" in page.content  # DRF's indented JSON, HTML-escaped
    assert b"offset=2" in page.content  # the next-page control


@pytest.mark.parametrize("value", ["1.7", "1e400", "99999999999999999999"])
def test_category_filter_takes_whole_ids_only(api, value):
    category = CategoryFactory(name="Bolts")
    SparePartFactory(category=category)
    assert api.get(f"/api/v1/items/?category={category.pk}").json()["count"] == 1
    response = api.get(f"/api/v1/items/?category={value.replace('1', str(category.pk), 1)}")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["category"]


def test_audit_actor_filter_takes_whole_ids_only(api, superuser):
    SparePartFactory()
    assert api.get(f"/api/v1/audit/?actor={superuser.pk}").status_code == 200
    response = api.get(f"/api/v1/audit/?actor={superuser.pk}.5")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["actor"]


def test_a_patch_with_an_old_etag_is_refused_with_412_and_changes_nothing(api):
    part = SparePartFactory(sku="A-STL-M10-50", price=Decimal("8.25"))
    read = api.get("/api/v1/items/A-STL-M10-50/")
    etag = read["ETag"]
    assert etag == f'"{read.json()["date_updated"]}"'
    first = api.patch("/api/v1/items/A-STL-M10-50/", {"price": "8.40"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200 and first["ETag"] != etag
    stale = api.patch("/api/v1/items/A-STL-M10-50/", {"price": "9.00"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412, stale.content
    assert stale.json()["code"] == "stale_version"
    part.refresh_from_db()
    assert part.price == Decimal("8.40")
    assert (
        api.patch("/api/v1/items/A-STL-M10-50/", {"price": "9.00"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    )
    bad = api.patch("/api/v1/items/A-STL-M10-50/", {"price": "1"}, format="json", HTTP_IF_MATCH='"yesterday"')
    assert bad.status_code == 400 and bad.json()["field"] == "If-Match"


def test_categories_carry_their_version_too(api):
    category = CategoryFactory(name="Valves")
    etag = api.get(f"/api/v1/categories/{category.pk}/")["ETag"]
    assert api.patch(f"/api/v1/categories/{category.pk}/", {"name": "Taps"}, HTTP_IF_MATCH=etag).status_code == 200
    stale = api.patch(f"/api/v1/categories/{category.pk}/", {"name": "Pipes"}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    category.refresh_from_db()
    assert category.name == "Taps"


def test_a_new_stock_through_patch_needs_the_ledger_permission_like_adjust_stock():
    from django.contrib.auth.models import Permission

    from conftest import client_for, make_user

    part = SparePartFactory(sku="A-STL-M10-50", stock=5, price=Decimal("1.00"))
    clerk = make_user(is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="inventory", codename__in=["view_sparepart", "change_sparepart"]
        )
    )
    api = client_for(clerk)
    assert api.patch("/api/v1/items/A-STL-M10-50/", {"price": "2.00"}, format="json").status_code == 200
    refused = api.patch("/api/v1/items/A-STL-M10-50/", {"stock": 50}, format="json")
    assert refused.status_code == 403, refused.content
    part.refresh_from_db()
    assert (part.price, part.stock, part.movements.count()) == (Decimal("2.00"), 5, 1)


def test_patch_naming_the_sku_is_400_read_only_and_changes_nothing(api):
    SparePartFactory(sku="Z-STL-M1-1", price=Decimal("1.00"))
    for body in ({"sku": "Z-STL-M1-2"}, {"sku": "Z-STL-M1-1"}, {"sku": "Z-STL-M1-2", "price": "2.00"}):
        response = api.patch("/api/v1/items/Z-STL-M1-1", body, format="json")
        assert response.status_code == 400, response.content
        assert response.json() == {
            "sku": [
                "This field is read-only: a part's SKU is fixed once created, as clients use it in URLs "
                "(staff can rename a part in the admin)."
            ]
        }
    both = api.patch("/api/v1/items/Z-STL-M1-1", {"sku": "Z-STL-M1-2", "price": "-1"}, format="json")
    assert set(both.json()) == {"sku", "price"}
    assert list(SparePart.objects.values_list("sku", "price")) == [("Z-STL-M1-1", Decimal("1.00"))]
    assert api.get("/api/v1/items/Z-STL-M1-1").status_code == 200

"""inventory.services, called directly: the rules every caller (API, admin, CSV import) goes through."""

from decimal import Decimal

import pytest
from django.db import transaction

from inventory import services
from inventory.models import MAX_STOCK, Category, SparePart, StockMovement
from inventory.tests.factories import CategoryFactory, SparePartFactory
from maintenance.api.errors import Conflict, InsufficientStock, InvalidInput, NotFound

pytestmark = pytest.mark.django_db


def ledger_total(part) -> int:
    return sum(part.movements.values_list("delta", flat=True))


def test_category_names_are_unique_without_regard_to_case_and_trimmed():
    category = services.create_category(name="  Valves ", description=None)
    assert (category.name, category.description) == ("Valves", "")
    with pytest.raises(InvalidInput) as refused:
        services.create_category(name="VALVES")
    assert (refused.value.field, refused.value.code) == ("name", "already_exists")
    with pytest.raises(InvalidInput):
        services.create_category(name="   ")
    renamed = services.update_category(category, name="valves")  # its own name in another case
    assert renamed.name == "valves"
    with pytest.raises(InvalidInput) as empty:
        services.update_category(category)
    assert empty.value.code == "no_fields"


def test_deleting_a_category_keeps_its_parts_uncategorised():
    category = CategoryFactory()
    part = SparePartFactory(category=category)
    services.delete_category(category)
    part.refresh_from_db()
    assert part.category_id is None
    assert not Category.objects.filter(pk=category.pk).exists()


def test_a_new_part_takes_its_opening_stock_through_the_ledger():
    category = CategoryFactory()
    part = services.create_spare_part(name="Bolt", sku=" A-STL-M10-50 ", price="0.45", stock=12, category=category)
    part.refresh_from_db()
    assert (part.sku, part.price, part.stock) == ("A-STL-M10-50", Decimal("0.45"), 12)
    (movement,) = part.movements.all()
    assert (movement.delta, movement.stock_after, movement.reason) == (12, 12, StockMovement.Reason.INITIAL)
    with pytest.raises(InvalidInput) as taken:
        services.create_spare_part(name="Other", sku="A-STL-M10-50", price="1")
    assert (taken.value.field, taken.value.code) == ("sku", "already_exists")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"sku": "NOT-A-SKU"}, "sku"),
        ({"price": "-1"}, "price"),
        ({"stock": -1}, "stock"),
        ({"min_stock": MAX_STOCK + 1}, "min_stock"),
    ],
)
def test_bad_part_values_are_refused_naming_the_field(fields, field):
    values = {"name": "Bolt", "sku": "A-STL-M10-50", "price": "1.00", **fields}
    with pytest.raises(InvalidInput) as refused:
        services.create_spare_part(**values)
    assert refused.value.field == field
    assert not SparePart.objects.exists()


def test_updating_a_part_records_a_new_stock_as_an_adjustment():
    part = SparePartFactory(stock=10, price=Decimal("1.00"))
    updated = services.update_spare_part(part, price="1.50", stock=7, note="counted")
    part.refresh_from_db()
    assert (updated.stock, part.stock, part.price) == (7, 7, Decimal("1.50"))
    movement = part.movements.get(reason=StockMovement.Reason.ADJUSTMENT)
    assert (movement.delta, movement.stock_after, movement.note) == (-3, 7, "counted")
    assert ledger_total(part) == part.stock
    with pytest.raises(InvalidInput):
        services.update_spare_part(part, colour="red")


def test_adjust_stock_refuses_zero_unknown_reasons_and_overselling():
    part = SparePartFactory(stock=5)
    with pytest.raises(InvalidInput):
        services.adjust_stock(part, delta=0)
    with pytest.raises(InvalidInput):
        services.adjust_stock(part, delta=1, reason="stolen")
    with pytest.raises(InsufficientStock) as short:
        services.adjust_stock(part, delta=-6)
    assert short.value.extra == {"sku": part.sku, "available": 5, "requested": 6}
    with pytest.raises(Conflict) as over:
        services.adjust_stock(part, delta=MAX_STOCK)
    assert over.value.code == "stock_above_maximum"
    movement = services.adjust_stock(part, delta=3, reason=StockMovement.Reason.RECEIPT, note="delivery")
    part.refresh_from_db()
    assert (part.stock, movement.stock_after, movement.pk is not None) == (8, 8, True)


def test_stock_deltas_change_several_parts_at_once_or_none():
    a, b = SparePartFactory(stock=5), SparePartFactory(stock=1)
    with pytest.raises(InsufficientStock), transaction.atomic():
        services.apply_stock_deltas({a.pk: -1, b.pk: -2}, reason="adjustment")
    with pytest.raises(NotFound) as unknown, transaction.atomic():
        services.apply_stock_deltas({a.pk: 1, 10**12: 1}, reason="adjustment")
    assert unknown.value.extra == {"missing_ids": [10**12]}
    a.refresh_from_db(), b.refresh_from_db()
    assert (a.stock, b.stock) == (5, 1)
    with transaction.atomic():
        movements = services.apply_stock_deltas({b.pk: 4, a.pk: -5, 10**12: 0}, reason="adjustment")
    assert [(m.spare_part_id, m.stock_after) for m in movements] == [(a.pk, 0), (b.pk, 5)]


def test_a_part_on_an_order_cannot_be_deleted_and_others_can():
    from orders.services import place_order

    used, unused = SparePartFactory(stock=3), SparePartFactory()
    place_order(request_id="r", items=[{"spare_part_id": used.pk, "quantity": 1}])
    with pytest.raises(Conflict) as in_use:
        services.delete_spare_part(used)
    assert in_use.value.code == "part_in_use"
    services.delete_spare_part(unused)
    assert not SparePart.objects.filter(pk=unused.pk).exists()
    with pytest.raises(NotFound):
        services.get_part_by_sku(unused.sku)

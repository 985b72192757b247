"""The stock hot path (inventory.stock_sql) writes exactly what the plain ORM writes.

Each operation runs twice from the same database state, each time rolled back
afterwards: through the services (and so the hot path), then through the
straightforward ORM implementation below — ``select_for_update``, ``save()``,
``create()``, with the audit rows written by the ordinary ``post_save``
receivers. Every row of the tables the hot path writes is compared (ids
included; timestamps only for agreeing with each other). Both run with
``SET CONSTRAINTS ALL IMMEDIATE``: nothing relies on a deferred check.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from inventory import services as inventory
from inventory import stock_sql
from inventory.models import SparePart, StockMovement
from inventory.tests.factories import CategoryFactory, SparePartFactory
from maintenance.audit.context import acting_as
from maintenance.audit.models import Auditor
from maintenance.http.timing import current_request_id
from orders import services as orders
from orders.models import ServiceOrder, ServiceOrderItem

pytestmark = pytest.mark.django_db


# --- the reference: the same operations on the ORM ----------------------------------------------


def reference_stock_change(deltas: dict[int, int], *, reason: str, order_id=None, note="", actor=None):
    parts = SparePart.objects.select_for_update().filter(pk__in=deltas).order_by("pk")
    for part in parts:
        part.stock += deltas[part.pk]
        part.save(update_fields=["stock", "date_updated"])  # audited by post_save
        StockMovement.objects.create(
            spare_part=part,
            delta=deltas[part.pk],
            stock_after=part.stock,
            reason=reason,
            order_id=order_id,
            actor=actor,
            note=note,
        )


def reference_place_order(*, order_id, line_ids, request_id, items, created_by, **client):
    prices = dict(SparePart.objects.filter(pk__in=[i["spare_part_id"] for i in items]).values_list("pk", "price"))
    total = sum((i["quantity"] * prices[i["spare_part_id"]] for i in items), Decimal("0.00"))
    order = ServiceOrder(id=order_id, request_id=request_id, total=total, created_by=created_by, **client)
    order.save(force_insert=True)
    totals: dict[int, int] = {}
    for item in items:
        totals[item["spare_part_id"]] = totals.get(item["spare_part_id"], 0) - item["quantity"]
    # The hot path's audit rows come in this order: the order, the stock, the lines.
    reference_stock_change(totals, reason=StockMovement.Reason.ORDER, order_id=order_id, actor=created_by)
    for item, line_id in zip(items, line_ids, strict=True):
        ServiceOrderItem(
            id=line_id,
            order=order,
            spare_part_id=item["spare_part_id"],
            quantity=item["quantity"],
            unit_price=prices[item["spare_part_id"]],
        ).save(force_insert=True)
    return order


# --- running both --------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _rows(model, exclude=()):
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in exclude]
    return list(model.objects.order_by("pk").values_list(*fields))


def _state() -> dict:
    """Every row the hot path may write, timestamps left out."""
    times = {"date_created", "date_updated", "timestamp"}
    return {
        "orders": _rows(ServiceOrder, times),
        "lines": _rows(ServiceOrderItem, times),
        "parts": _rows(SparePart, times),
        # Ledger ids come from the sequence in either run: compared by their order, not their value.
        "ledger": [row[1:] for row in _rows(StockMovement, times)],
        "audit": [row[1:] for row in _rows(Auditor, times)],
    }


def _written_by(operation) -> dict:
    state = {}
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            operation()
            state = _state()
            raise _Rollback
    except _Rollback:
        pass
    return state


@pytest.fixture
def clerk():
    return get_user_model().objects.create_user("clerk", password="x")


@pytest.fixture
def request_context():
    token = current_request_id.set("req-hot-path")
    yield
    current_request_id.reset(token)


@pytest.fixture
def parts():
    category = CategoryFactory(name="Valves")
    return [
        SparePartFactory(sku="A-STL-M10-50", price=Decimal("0.33"), stock=10, category=category),
        SparePartFactory(sku="B-STL-M10-50", price=Decimal("19.99"), stock=5, category=None),
        SparePartFactory(sku="C-STL-M10-50", price=Decimal("7.00"), stock=0, min_stock=3),
    ]


def test_placing_an_order_writes_what_the_orm_writes(parts, clerk, request_context):
    a, b, _ = parts
    items = [
        {"spare_part_id": b.pk, "quantity": 2},
        {"spare_part_id": a.pk, "quantity": 3},
        {"spare_part_id": b.pk, "quantity": 1},
    ]
    client = {
        "client_name": "Ana Gómez",
        "client_phone": "+57 300",
        "client_email": "ana@example.com",
        "description": "Pump",
    }
    placed = {}

    def hot_path():
        with acting_as(clerk):
            placed["order"] = orders.place_order(request_id="r-1", items=items, created_by=clerk, **client)
        # Every row of the change carries the same time.
        placed["times"] = {
            *ServiceOrder.objects.values_list("date_created", "date_updated"),
            *ServiceOrderItem.objects.values_list("date_created", "date_updated"),
            *StockMovement.objects.filter(reason="order").values_list("date_created", "date_created"),
            *Auditor.objects.filter(request_id="req-hot-path").values_list("timestamp", "timestamp"),
        }

    hot = _written_by(hot_path)
    order = placed["order"].order
    line_ids = [line.pk for line in placed["order"].lines]

    def reference():
        with acting_as(clerk):
            reference_place_order(
                order_id=order.pk, line_ids=line_ids, request_id="r-1", items=items, created_by=clerk, **client
            )

    assert hot == _written_by(reference)
    assert len(placed["times"]) == 1
    # What was compared is what the order should have done.
    assert [row[2:5] for row in hot["lines"]] == [
        (b.pk, 2, Decimal("19.99")),
        (a.pk, 3, Decimal("0.33")),
        (b.pk, 1, Decimal("19.99")),
    ]
    # The order, two parts' stock, three lines: with the actor and the request.
    clerks_rows = [row for row in hot["audit"] if row[5:7] == (clerk.pk, "req-hot-path")]
    assert [(row[3], row[0]) for row in clerks_rows] == [
        ("create", ContentType.objects.get_for_model(ServiceOrder).pk),
        *[("update", ContentType.objects.get_for_model(SparePart).pk)] * 2,
        *[("create", ContentType.objects.get_for_model(ServiceOrderItem).pk)] * 3,
    ]


@pytest.mark.parametrize(
    ("deltas", "reason", "note"),
    [
        ({0: 4}, StockMovement.Reason.RECEIPT, "Delivery 12"),
        ({0: -10, 1: 7, 2: 1}, StockMovement.Reason.ADJUSTMENT, ""),
        ({2: 2000}, StockMovement.Reason.IMPORT, "Imported from file"),
    ],
)
def test_a_stock_change_writes_what_the_orm_writes(parts, clerk, request_context, deltas, reason, note):
    by_id = {parts[index].pk: delta for index, delta in deltas.items()}

    def hot_path():
        with acting_as(clerk):
            inventory.apply_stock_deltas(by_id, reason=reason, note=note)

    def reference():
        with acting_as(clerk):
            reference_stock_change(by_id, reason=reason, note=note, actor=clerk)

    hot = _written_by(hot_path)
    assert hot == _written_by(reference)
    assert len([row for row in hot["ledger"] if row[3] == reason]) == len(by_id)


def test_returning_an_orders_stock_names_the_order_as_the_orm_does(parts, clerk, request_context):
    a = parts[0]
    order = orders.place_order(request_id="r-2", items=[{"spare_part_id": a.pk, "quantity": 2}]).order

    def hot_path():
        inventory.apply_stock_deltas({a.pk: 2}, reason=StockMovement.Reason.ORDER_CANCELLED, order_id=order.pk)

    def reference():
        reference_stock_change({a.pk: 2}, reason=StockMovement.Reason.ORDER_CANCELLED, order_id=order.pk)

    hot = _written_by(hot_path)
    assert hot == _written_by(reference)
    assert hot["ledger"][-1][:5] == (a.pk, 2, 10, StockMovement.Reason.ORDER_CANCELLED, order.pk)


def test_the_guard_refuses_what_an_unlocked_caller_would_oversell(parts):
    a = parts[0]
    stale = SparePart.objects.get(pk=a.pk)
    stale.stock = 100  # what a caller that did not lock might believe
    with transaction.atomic():
        change = inventory.prepare_stock_change({a.pk: -50}, reason="adjustment", locked={a.pk: stale})
        with pytest.raises(stock_sql.StockGuardFailed), transaction.atomic():
            stock_sql.write(movements=change.movements, audit_rows=change.audit_rows, changed_at=change.changed_at)
    a.refresh_from_db()
    assert a.stock == 10
    assert not StockMovement.objects.filter(spare_part=a, delta=-50).exists()


def test_the_lock_reads_every_field_of_the_parts_and_their_categories(parts):
    with transaction.atomic():
        locked, order_ids, line_ids = stock_sql.lock_parts([p.pk for p in parts] + [10**12], new_orders=1, new_lines=2)
    assert (len(order_ids), len(line_ids)) == (1, 2)
    for part in parts:
        fresh = SparePart.objects.select_related("category").get(pk=part.pk)
        assert _fields(locked[part.pk]) == _fields(fresh)
        assert (locked[part.pk].category and _fields(locked[part.pk].category)) == (
            fresh.category and _fields(fresh.category)
        )
    assert 10**12 not in locked


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}

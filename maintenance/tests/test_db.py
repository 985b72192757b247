"""insert_rows writes what bulk_create would, with the same field preparation."""

import datetime
import json
from decimal import Decimal

import orjson
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory.models import StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.audit.models import Auditor
from maintenance.db import (
    RowCountMismatch,
    Statement,
    _json_default,
    _row_preparers,
    allocate_ids,
    execute_together,
    insert_rows,
    insert_statement,
)
from orders.models import OrderStatus, ServiceOrder, ServiceOrderItem

pytestmark = pytest.mark.django_db


def test_rows_get_their_ids_in_order_and_read_back_equal(superuser):
    orders = insert_rows(
        [
            ServiceOrder(request_id=f"r{i}", client_name=f"c{i}", total=Decimal("1.50"), created_by=superuser)
            for i in range(3)
        ]
    )
    assert [o.pk for o in orders] == sorted(o.pk for o in orders)
    for order in orders:
        stored = ServiceOrder.objects.get(pk=order.pk)
        assert (stored.request_id, stored.client_name, stored.total, stored.created_by_id) == (
            order.request_id,
            order.client_name,
            Decimal("1.50"),
            superuser.pk,
        )
        assert stored.status == "pending"  # the model's default
        # auto_now_add / auto_now were filled in by pre_save, as bulk_create does.
        assert order.date_created is not None and stored.date_created == order.date_created
        assert not order._state.adding


def test_json_and_nullable_fields_are_prepared(superuser):
    part = SparePartFactory()
    entry = Auditor(
        content_type=ContentType.objects.get_for_model(part),
        object_id=str(part.pk),
        action=Auditor.Action.UPDATE,
        changes={"stock": [1, 2], "note": "ü"},
        actor=superuser,
        remote_addr=None,
    )
    insert_rows([entry])
    stored = Auditor.objects.get(pk=entry.pk)
    assert stored.changes == {"stock": [1, 2], "note": "ü"}
    assert (stored.actor_id, stored.remote_addr, stored.object_repr) == (superuser.pk, None, "")


def test_every_column_type_reads_back_as_written(superuser):
    """Rows travel as JSON: decimals, addresses, time stamps, text and JSON come back unchanged."""
    part = SparePartFactory()
    entries = [
        Auditor(
            content_type=ContentType.objects.get_for_model(part),
            object_id=str(part.pk),
            object_repr='quote " backslash \\ ü ✓ \u2028',
            action=Auditor.Action.UPDATE,
            changes={"price": ["1.50", "2.00"], "nested": {"a": [1, None, True]}, "empty": ""},
            actor=superuser,
            remote_addr=address,
            request_id="req-1",
        )
        for address in ("192.168.0.10", "2001:db8::1")
    ]
    insert_rows(entries)
    for entry in entries:
        stored = Auditor.objects.get(pk=entry.pk)
        assert (stored.object_repr, stored.changes, stored.remote_addr, stored.timestamp, stored.request_id) == (
            entry.object_repr,
            entry.changes,
            entry.remote_addr,
            entry.timestamp,  # set by pre_save (auto_now_add), to the microsecond
            "req-1",
        )
    [order] = insert_rows([ServiceOrder(request_id="money", total=Decimal("12345678.90"), created_by=superuser)])
    assert ServiceOrder.objects.get(pk=order.pk).total == Decimal("12345678.90")


@pytest.mark.parametrize(
    "changes",
    [
        {"status": [None, OrderStatus.PENDING], "qty": [1, 2**40], "ratio": 0.1, "text": 'ü ✓ " \\ \u2028'},
        {7: "int key", False: "bool key", None: "null key", 2.5: "float key"},
        {"huge": 2**70},  # past orjson's 64 bits: json.dumps writes it
        [],
    ],
)
def test_json_values_are_written_as_json_dumps_writes_them(superuser, changes):
    part = SparePartFactory()
    entry = Auditor(
        content_type=ContentType.objects.get_for_model(part), object_id="1", action="update", changes=changes
    )
    insert_rows([entry])
    assert Auditor.objects.get(pk=entry.pk).changes == json.loads(json.dumps(changes))


def test_json_values_json_dumps_refuses_are_still_refused(superuser):
    part = SparePartFactory()
    for value in (datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), Decimal("1.5")):
        entry = Auditor(
            content_type=ContentType.objects.get_for_model(part), object_id="1", action="update", changes={"v": value}
        )
        with pytest.raises(TypeError, match="not JSON serializable"):
            insert_rows([entry])
    assert not Auditor.objects.filter(object_id="1").exists()


def test_one_sql_text_and_one_parameter_for_any_number_of_rows(superuser):
    one = insert_statement([ServiceOrder(request_id="a", total=Decimal("1"), created_by=superuser)])
    many = insert_statement(
        [ServiceOrder(request_id=f"b{i}", total=Decimal("1"), created_by=superuser) for i in range(20)]
    )
    assert one.sql == many.sql
    assert len(one.params) == len(many.params) == 1
    assert (one.expected_rows, many.expected_rows) == (1, 20)


def test_values_written_unprepared_are_what_their_fields_would_prepare(superuser):
    """The short-cut for ints, strings, booleans and None writes what ``get_db_prep_save`` would."""
    part = SparePartFactory()
    order = ServiceOrder(pk=7, request_id="r", client_name="c", total=Decimal("1"), created_by=superuser)
    samples = [
        order,
        ServiceOrderItem(pk=8, order=order, spare_part=part, quantity=3, unit_price=Decimal("2.50")),
        StockMovement(pk=9, spare_part=part, delta=-3, stock_after=4, reason="order", order_id=7, note=""),
        Auditor(
            content_type=ContentType.objects.get_for_model(part),
            object_id=str(part.pk),
            action=Auditor.Action.UPDATE,
            changes={},
            actor=superuser,
            remote_addr="127.0.0.1",
        ),
    ]
    checked = 0
    for obj in samples:
        for field, column, attname, plain, _ in _row_preparers(type(obj), obj.pk is not None):
            value = obj.__dict__.get(attname)
            if plain and (value is None or type(value) in plain):
                # What goes into the row's JSON is the same (IntegerField prepares 3 as psycopg's Int4(3)).
                prepared = field.get_db_prep_save(value, connection)
                assert orjson.dumps(prepared, default=_json_default) == orjson.dumps(value), (
                    type(obj).__name__,
                    column,
                )
                checked += 1
    assert checked >= 15
    # Classes not listed (and subclasses of listed ones) always take the long way.
    assert not any(
        plain for field, _, _, plain, _ in _row_preparers(Auditor, False) if field.name in ("timestamp", "changes")
    )


def test_constraints_still_hold():
    part = SparePartFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows([StockMovement(spare_part_id=part.pk, delta=1, stock_after=-1, reason="adjustment")])
    assert not StockMovement.objects.filter(stock_after=-1).exists()


def test_nothing_to_insert():
    assert insert_rows([]) == []


def test_allocated_ids_are_new_and_distinct():
    (first,), items = allocate_ids((ServiceOrder, 1), (StockMovement, 3))
    (second,) = allocate_ids((ServiceOrder, 1))[0]
    assert second > first
    assert len(set(items)) == 3 and items == sorted(items)


def test_execute_together_writes_several_tables_in_one_statement(superuser):
    part = SparePartFactory(stock=5)
    (order_id,), (movement_id,) = allocate_ids((ServiceOrder, 1), (StockMovement, 1))
    order = ServiceOrder(id=order_id, request_id="together", total=Decimal("2.00"), created_by=superuser)
    movement = StockMovement(
        id=movement_id, spare_part_id=part.pk, delta=-1, stock_after=4, reason="order", order=order, actor=superuser
    )
    update = Statement("UPDATE inventory_sparepart SET stock = stock - 1 WHERE id = %s RETURNING id", [part.pk], 1)
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        execute_together([insert_statement([order]), update, insert_statement([movement])], saved=[[order], [movement]])
    assert len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1
    assert ServiceOrder.objects.get(pk=order_id).request_id == "together"
    assert StockMovement.objects.get(pk=movement_id).order_id == order_id
    part.refresh_from_db()
    assert part.stock == 4
    assert not order._state.adding and not movement._state.adding


def test_a_statement_that_misses_its_row_count_raises_and_the_transaction_rolls_back(superuser):
    part = SparePartFactory(stock=0)
    (order_id,) = allocate_ids((ServiceOrder, 1))[0]
    order = ServiceOrder(id=order_id, request_id="guarded", total=Decimal("0.00"), created_by=superuser)
    guarded = Statement(
        "UPDATE inventory_sparepart SET stock = stock - 1 WHERE id = %s AND stock >= 1 RETURNING id", [part.pk], 1
    )
    with pytest.raises(RowCountMismatch) as raised, transaction.atomic():
        execute_together([insert_statement([order]), guarded])
    assert (raised.value.index, raised.value.expected, raised.value.got) == (1, 1, 0)
    assert not ServiceOrder.objects.filter(pk=order_id).exists()


def test_statement_cache_compiles_once_per_key_and_forgets_the_oldest():
    from maintenance.db import StatementCache

    cache, compiled = StatementCache(maxsize=2), []

    def compile_for(key):
        def compile_statement():
            compiled.append(key)
            return f"SQL {key}"

        return compile_statement

    assert cache.get("a", compile_for("a")) == "SQL a"
    assert cache.get("a", compile_for("a")) == "SQL a"
    assert cache.get("b", compile_for("b")) == "SQL b"
    assert cache.get("c", compile_for("c")) == "SQL c"  # "a" goes
    assert cache.get("b", compile_for("b")) == "SQL b"
    assert cache.get("a", compile_for("a")) == "SQL a"
    assert compiled == ["a", "b", "c", "a"]


def test_parts_locked_with_new_ids_in_one_round_trip(django_assert_num_queries):
    from inventory.models import SparePart
    from inventory.services import lock_parts_allocating_ids
    from orders.models import ServiceOrder

    parts = [SparePartFactory(stock=5), SparePartFactory(stock=7)]
    with transaction.atomic(), django_assert_num_queries(1):
        locked, (order_ids, movement_ids) = lock_parts_allocating_ids(
            [parts[1].pk, parts[0].pk, 10**12], (ServiceOrder, 1), (StockMovement, 3)
        )
    assert sorted(locked) == sorted(part.pk for part in parts)
    assert {part.stock for part in locked.values()} == {5, 7}
    assert len(order_ids) == 1 and len(set(movement_ids)) == 3
    (next_order_id,) = allocate_ids((ServiceOrder, 1))[0]
    assert next_order_id > order_ids[0]
    with transaction.atomic():
        assert lock_parts_allocating_ids([10**12], (ServiceOrder, 1)) == ({}, None)
        assert SparePart.objects.count() == 2

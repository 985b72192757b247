"""The stock hot path, in SQL written out: placing an order and every other change of stock.

This is the one place the project leaves the ORM on purpose. Every change of a
part's stock — an order placed, cancelled, a line added or removed, a stock
adjustment, a CSV import — is written by the two statements below, called from
``inventory.services`` (``apply_stock_deltas`` and ``prepare_stock_change``) and
``orders.services.place_order``. Everything else (admin edits, categories, a
part's other fields, images, roles) uses the ORM.

Why: placing an order is the API's hottest write. The same placement written the
ORM way (``select_for_update``, ``bulk_create`` for the order, its lines, the
ledger and the audit rows, a ``Case/When`` stock ``UPDATE``) was measured with
``make bench-inprocess`` in alternated runs on the 2-core reference machine:
5.1 ms of app CPU per order against 2.3 ms here (14.8 M instructions against
6.4 M under callgrind) and 8 statements against 2 plus the commit; ``make bench``
S1 fell by about a third. Most of the difference is the ORM's query compiler and
per-field value preparation, run for each of the five statements.

The two statements:

1. :data:`LOCK_SQL` locks the parts' rows ``FOR UPDATE`` in id order (concurrent
   orders never deadlock) and reads their categories for the response; for an
   order it also draws the ids of the new order and its lines from their
   sequences, so the audit rows, decided in Python before anything is written,
   can name them.
2. :data:`WRITE_SQL` is one statement of data-modifying CTEs: the new order and
   its lines (none for other changes), the guarded stock ``UPDATE`` (its
   ``WHERE`` refuses a stock below zero or above ``MAX_STOCK`` even for a caller
   that forgot to lock; the check constraints are the last line), the ledger rows
   (their ``stock_after`` is what the ``UPDATE`` left) and the audit rows the
   audit receivers returned. Rows travel as JSON arrays read with
   ``jsonb_to_recordset``, every column named with its type (a function scan
   returns them in array order, so the audit rows keep theirs): one SQL text for
   any number of rows, which psycopg prepares once per connection.

Correctness relies on no deferred constraint: the test runs both statements under
``SET CONSTRAINTS ALL IMMEDIATE``.

A schema change must touch this module when it adds, renames or retypes a
column of ``inventory_sparepart``, ``inventory_category`` (read by the lock),
``inventory_stockmovement``, ``orders_serviceorder``, ``orders_serviceorderitem``
or ``audit_auditor`` (written here) — a column with a database default or a
``GeneratedField`` can simply be left out. ``inventory/tests/test_stock_sql.py``
runs the same operations through a plain ORM implementation and compares every
row written; it fails when this module and the models disagree.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal

import orjson
from django.db import connection

from inventory.models import MAX_STOCK, Category, SparePart, StockMovement

# A part's columns then its category's, as the lock reads them (the names are the models' attnames).
PART_COLUMNS = ("id", "name", "sku", "price", "stock", "min_stock", "category_id", "date_created", "date_updated")
CATEGORY_COLUMNS = ("id", "name", "description", "date_created", "date_updated")


def _loading_order(model, columns: tuple[str, ...]) -> list[int]:
    """Where each of ``model``'s fields stands in ``columns``: ``Model.from_db`` takes the values
    in the model's field order. A field added to the model and not read here fails at import."""
    return [columns.index(field.attname) for field in model._meta.concrete_fields]


_PART_ORDER = _loading_order(SparePart, PART_COLUMNS)
_CATEGORY_ORDER = _loading_order(Category, CATEGORY_COLUMNS)
_PART_FIELDS = [SparePart._meta.concrete_fields[n].attname for n in range(len(PART_COLUMNS))]
_CATEGORY_FIELDS = [Category._meta.concrete_fields[n].attname for n in range(len(CATEGORY_COLUMNS))]

LOCK_SQL = """
WITH new_ids AS (
    SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('orders_serviceorder', 'id'))
                 FROM generate_series(1, %(orders)s)) AS order_ids,
           ARRAY(SELECT nextval(pg_get_serial_sequence('orders_serviceorderitem', 'id'))
                 FROM generate_series(1, %(lines)s)) AS line_ids
)
SELECT p.id, p.name, p.sku, p.price, p.stock, p.min_stock, p.category_id, p.date_created, p.date_updated,
       c.id, c.name, c.description, c.date_created, c.date_updated,
       new_ids.order_ids, new_ids.line_ids
FROM inventory_sparepart p
LEFT JOIN inventory_category c ON c.id = p.category_id
CROSS JOIN new_ids
WHERE p.id = ANY(%(part_ids)s::bigint[])
ORDER BY p.id
FOR UPDATE OF p
"""

WRITE_SQL = f"""
WITH new_order AS (
    INSERT INTO orders_serviceorder (id, request_id, client_name, client_phone, client_email, description,
                                     status, total, created_by_id, date_created, date_updated)
    SELECT r.id, r.request_id, r.client_name, r.client_phone, r.client_email, r.description,
           r.status, r.total, r.created_by_id, %(now)s, %(now)s
    FROM jsonb_to_recordset(%(orders)s::jsonb) AS r(id bigint, request_id text, client_name text,
        client_phone text, client_email text, description text, status text, total numeric,
        created_by_id integer)
    RETURNING id
), new_lines AS (
    INSERT INTO orders_serviceorderitem (id, order_id, spare_part_id, quantity, unit_price, date_created,
                                         date_updated)
    SELECT r.id, r.order_id, r.spare_part_id, r.quantity, r.unit_price, %(now)s, %(now)s
    FROM jsonb_to_recordset(%(lines)s::jsonb) AS r(id bigint, order_id bigint, spare_part_id bigint,
        quantity integer, unit_price numeric)
    RETURNING id
), moved AS (
    -- The deltas are bigints, so stock + delta is summed in bigint: the guard refuses a sum past
    -- the integer column instead of PostgreSQL failing with "integer out of range".
    UPDATE inventory_sparepart AS p SET stock = p.stock + d.delta, date_updated = %(now)s
    FROM jsonb_to_recordset(%(deltas)s::jsonb) AS d(spare_part_id bigint, delta bigint)
    WHERE p.id = d.spare_part_id AND p.stock + d.delta BETWEEN 0 AND {MAX_STOCK:d}
    RETURNING p.id AS spare_part_id, d.delta, p.stock AS stock_after
), ledger AS (
    INSERT INTO inventory_stockmovement (spare_part_id, delta, stock_after, reason, order_id, actor_id, note,
                                         date_created)
    SELECT m.spare_part_id, m.delta, m.stock_after, %(reason)s::text, %(order_id)s::bigint, %(actor_id)s::integer,
           %(note)s::text, %(now)s
    FROM moved AS m ORDER BY m.spare_part_id
    RETURNING id, spare_part_id
), audited AS (
    INSERT INTO audit_auditor (content_type_id, object_id, object_repr, action, changes, actor_id, request_id,
                               client_request_id, remote_addr, timestamp)
    SELECT r.content_type_id, r.object_id, r.object_repr, r.action, r.changes, r.actor_id, r.request_id,
           r.client_request_id, r.remote_addr, %(now)s
    FROM jsonb_to_recordset(%(audit)s::jsonb) AS r(content_type_id integer, object_id text, object_repr text,
        action text, changes jsonb, actor_id integer, request_id text, client_request_id text, remote_addr inet)
)
SELECT (SELECT count(*) FROM moved), (SELECT coalesce(array_agg(id ORDER BY spare_part_id), '{{}}') FROM ledger)
"""


class StockGuardFailed(Exception):
    """The guarded ``UPDATE`` changed fewer parts than it was given: a stock left its bounds.

    Only a caller that did not lock the parts can meet it; its transaction must roll back.
    """


def _ids_literal(ids: Iterable[int]) -> str:
    # An array literal: psycopg's list adapter inspects every element to choose a type.
    return "{" + ",".join(str(int(part_id)) for part_id in sorted(set(ids))) + "}"


def lock_parts(
    part_ids: Iterable[int], *, new_orders: int = 0, new_lines: int = 0
) -> tuple[dict[int, SparePart], list[int], list[int]]:
    """Lock the parts' rows in id order, their categories loaded; ids for a new order and its lines.

    Returns the parts by id (unknown ids are simply absent), and the drawn order and line ids
    (an id drawn but not used — the transaction rolls back — is a gap, as with any sequence).
    """
    params = {"orders": new_orders, "lines": new_lines, "part_ids": _ids_literal(part_ids)}
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, params)
        rows = cursor.fetchall()
    parts, width, alias = {}, len(PART_COLUMNS), connection.alias
    for row in rows:
        part = SparePart.from_db(alias, _PART_FIELDS, [row[n] for n in _PART_ORDER])
        category_row = row[width : width + len(CATEGORY_COLUMNS)]
        part.category = (
            None
            if category_row[0] is None
            else Category.from_db(alias, _CATEGORY_FIELDS, [category_row[n] for n in _CATEGORY_ORDER])
        )
        parts[part.pk] = part
    if rows:
        return parts, list(rows[0][-2]), list(rows[0][-1])
    return parts, [], []


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(rows: list[dict]) -> str:
    return orjson.dumps(rows, default=_default).decode()


def write(
    *,
    movements: Sequence[StockMovement],
    audit_rows: Sequence,
    changed_at: datetime.datetime,
    order=None,
    lines: Sequence = (),
) -> None:
    """Write a checked stock change in one statement: stock, ledger, audit rows, and a new order with its lines.

    ``movements`` are unsaved ledger rows, one per part, all with the same reason, order, actor
    and note (a change is one reason); their ``stock_after`` must be what the locked rows give.
    ``audit_rows`` are the unsaved ``Auditor`` rows to insert, in order. ``order`` (a new
    ``ServiceOrder`` with its id drawn by :func:`lock_parts`) and its ``lines`` are inserted first.
    Sets the movements' ids and dates. Raises :class:`StockGuardFailed` if a stock would leave
    its bounds; nothing is written then, once the caller's transaction rolls back.
    """
    first = movements[0]
    params = {
        "now": changed_at,
        "orders": _dumps([_order_row(order)] if order is not None else []),
        "lines": _dumps([_line_row(line) for line in lines]),
        "deltas": _dumps([{"spare_part_id": m.spare_part_id, "delta": m.delta} for m in movements]),
        "reason": first.reason,
        "order_id": first.order_id,
        "actor_id": first.actor_id,
        "note": first.note,
        "audit": _dumps([_audit_row(entry) for entry in audit_rows]),
    }
    with connection.cursor() as cursor:
        cursor.execute(WRITE_SQL, params)
        moved, movement_ids = cursor.fetchone()
    if moved != len(movements):
        raise StockGuardFailed(f"{len(movements) - moved} of {len(movements)} stock changes left their bounds")
    # Marked saved as bulk_create marks its objects (``Model._state`` is documented).
    for movement, movement_id in zip(movements, movement_ids, strict=True):
        movement.id, movement.date_created = movement_id, changed_at
        movement._state.adding = False
    if order is not None:
        order.date_created = order.date_updated = changed_at
        order._state.adding = False
    for line in lines:
        line.date_created = line.date_updated = changed_at
        line._state.adding = False


def _order_row(order) -> dict:
    return {
        "id": order.id,
        "request_id": order.request_id,
        "client_name": order.client_name,
        "client_phone": order.client_phone,
        "client_email": order.client_email,
        "description": order.description,
        "status": order.status,
        "total": order.total,
        "created_by_id": order.created_by_id,
    }


def _line_row(line) -> dict:
    return {
        "id": line.id,
        "order_id": line.order_id,
        "spare_part_id": line.spare_part_id,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
    }


def _audit_row(entry) -> dict:
    return {
        "content_type_id": entry.content_type_id,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "action": entry.action,
        "changes": entry.changes,
        "actor_id": entry.actor_id,
        "request_id": entry.request_id,
        "client_request_id": entry.client_request_id,
        "remote_addr": entry.remote_addr,
    }

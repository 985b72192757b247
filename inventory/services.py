"""Inventory business rules. The API, the admin and the order services call these.

Every change of a part's stock goes through :func:`apply_stock_deltas`, which
locks the rows in id order, refuses to go below zero or above ``MAX_STOCK``,
updates stock with one guarded statement, writes one ledger movement per part
and the audit rows, all in the caller's transaction. So
``stock == sum(movement.delta)`` always holds.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.db import IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.db.models.functions import Lower
from django.utils import timezone

from inventory.models import MAX_STOCK, Category, SparePart, StockMovement
from inventory.validators import normalize_sku, sku_error
from maintenance.audit import services as audit
from maintenance.audit.context import current_actor
from maintenance.audit.models import Auditor
from maintenance.db import (
    RowCountMismatch,
    Statement,
    allocate_ids,
    allocate_ids_sql,
    execute_together,
    insert_statement,
)
from maintenance.errors import Conflict, InsufficientStock, InvalidInput, NotFound

Reason = StockMovement.Reason

# --- categories --------------------------------------------------------------


def _check_category_name(name: str, *, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("This field may not be blank.", field="name")
    duplicates = Category.objects.annotate(lname=Lower("name")).filter(lname=name.lower())
    if exclude_pk is not None:
        duplicates = duplicates.exclude(pk=exclude_pk)
    if duplicates.exists():
        raise InvalidInput(f"A category named '{name}' already exists.", field="name", code="already_exists")
    return name


def _save_category(category: Category) -> Category:
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError as exc:  # a concurrent insert won the race
        raise InvalidInput(
            f"A category named '{category.name}' already exists.", field="name", code="already_exists"
        ) from exc
    return category


def create_category(*, name: str, description: str = "") -> Category:
    return _save_category(Category(name=_check_category_name(name), description=description or ""))


def _require_fields(fields: Mapping) -> None:
    if not fields:
        raise InvalidInput("No fields to update.", code="no_fields")


def update_category(category: Category, **fields) -> Category:
    _require_fields(fields)
    if "name" in fields:
        category.name = _check_category_name(fields["name"], exclude_pk=category.pk)
    if "description" in fields:
        category.description = fields["description"] or ""
    return _save_category(category)


def delete_category(category: Category) -> None:
    """Delete a category; its parts stay, with no category."""
    with transaction.atomic():
        # The FK's SET_NULL runs as a bulk UPDATE, which signals don't see: audit it here.
        category_id = category.pk  # delete() clears the instance's pk
        parts = list(SparePart.objects.filter(category=category).only("id", "name", "sku", "category_id"))
        category.delete()
        audit.record_many((part, Auditor.Action.UPDATE, {"category_id": [category_id, None]}) for part in parts)


# --- spare parts -------------------------------------------------------------


def _sku_taken(sku: str) -> InvalidInput:
    return InvalidInput(f"A spare part with SKU '{sku}' already exists.", field="sku", code="already_exists")


def clean_sku(value: str) -> str:
    message = sku_error(value)
    if message:
        raise InvalidInput(message, field="sku", code="invalid_sku")
    return normalize_sku(value)


def _check_price(price) -> Decimal:
    if price is None or Decimal(price) < 0:
        raise InvalidInput("Price must be zero or more.", field="price")
    # Without a sign, -0 is the 0 PostgreSQL stores: the answer then says "0.00" like later reads.
    return Decimal(price).copy_abs()


def _check_count(value, field: str) -> int:
    """A number of units: zero or more, at most ``MAX_STOCK``."""
    if value is None or int(value) < 0:
        raise InvalidInput(f"{field} must be zero or more.", field=field)
    if int(value) > MAX_STOCK:
        raise InvalidInput(f"{field} must be at most {MAX_STOCK}.", field=field, extra={"max_stock": MAX_STOCK})
    return int(value)


def get_part_by_sku(sku: str) -> SparePart:
    sku = normalize_sku(sku)
    # PostgreSQL text cannot hold NUL, so no part has it (and the query would fail).
    part = None if "\x00" in sku else SparePart.objects.select_related("category").filter(sku=sku).first()
    if part is None:
        raise NotFound(f"Spare part with SKU '{sku}' not found.")
    return part


def create_spare_part(
    *,
    name: str,
    sku: str,
    price,
    stock: int = 0,
    min_stock: int = 0,
    category: Category | None = None,
    note: str = "",
) -> SparePart:
    """Create a part. Its opening stock is the ledger's first movement."""
    sku = clean_sku(sku)
    price = _check_price(price)
    stock = _check_count(stock, "stock")
    min_stock = _check_count(min_stock, "min_stock")
    if SparePart.objects.filter(sku=sku).exists():
        raise _sku_taken(sku)
    try:
        with transaction.atomic():
            category = _hold_category(category)
            part = SparePart(name=name, sku=sku, price=price, stock=0, min_stock=min_stock, category=category)
            part.save()
            if stock:
                apply_stock_deltas({part.pk: stock}, reason=Reason.INITIAL, note=note or "Opening stock")
                part.stock = stock
    except IntegrityError as exc:
        raise _sku_taken(sku) from exc
    return part


UPDATABLE_PART_FIELDS = ("name", "price", "min_stock", "category", "sku")


def _hold_category(category: Category | None) -> Category | None:
    """The part's category, its row held until the caller's transaction ends (or None).

    The category was looked up before the transaction began: deleted in between, the
    part's foreign key failed only at commit (a 500, or on create an error that blamed
    the SKU). Held here, a concurrent delete waits for this transaction, and one that
    came first is a 400 naming the field.
    """
    if category is None:
        return None
    held = Category.objects.select_for_update(no_key=True).filter(pk=category.pk).first()
    if held is None:
        raise InvalidInput(f"Category {category.pk} no longer exists.", field="category_id", code="does_not_exist")
    return held


def update_spare_part(part: SparePart, *, note: str = "", **fields) -> SparePart:
    """Change a part's fields. A new ``stock`` is recorded as an ``adjustment`` movement."""
    _require_fields(fields)
    unknown = set(fields) - set(UPDATABLE_PART_FIELDS) - {"stock"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {sorted(unknown)}.")
    with transaction.atomic():
        locked = SparePart.objects.select_for_update().get(pk=part.pk)
        if "sku" in fields:
            sku = clean_sku(fields["sku"])
            if sku != locked.sku and SparePart.objects.filter(sku=sku).exists():
                raise _sku_taken(sku)
            locked.sku = sku
        if "name" in fields:
            locked.name = fields["name"]
        if "price" in fields:
            locked.price = _check_price(fields["price"])
        if "min_stock" in fields:
            locked.min_stock = _check_count(fields["min_stock"], "min_stock")
        if "category" in fields:
            locked.category = _hold_category(fields["category"])
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as exc:
            if "sku" not in fields:
                raise
            raise _sku_taken(locked.sku) from exc  # a concurrent rename or create took it after the check
        if "stock" in fields:
            target = _check_count(fields["stock"], "stock")
            delta = target - locked.stock
            if delta:
                apply_stock_deltas({locked.pk: delta}, reason=Reason.ADJUSTMENT, note=note, locked={locked.pk: locked})
                locked.stock = target
    return locked


def delete_spare_part(part: SparePart) -> None:
    """Delete a part unless an order uses it: order history is protected."""
    from orders.models import ServiceOrderItem

    in_use = Conflict(f"Spare part '{part.sku}' appears on service orders and cannot be deleted.", code="part_in_use")
    try:
        with transaction.atomic():
            # Orders lock their parts before adding lines: with the row locked, no new line
            # can appear between the check and the delete.
            locked = SparePart.objects.select_for_update().filter(pk=part.pk).first()
            if locked is None:
                raise NotFound(f"Spare part with SKU '{part.sku}' not found.")
            if ServiceOrderItem.objects.filter(spare_part=locked).exists():
                raise in_use
            locked.delete()
    except ProtectedError as exc:  # the last line: a line the check missed, seen by the foreign key's PROTECT
        raise in_use from exc
    except IntegrityError as exc:  # or by the database's own foreign key check, at commit
        if not ServiceOrderItem.objects.filter(spare_part_id=part.pk).exists():
            raise
        raise in_use from exc


def adjust_stock(part: SparePart, *, delta: int, reason: str = Reason.ADJUSTMENT, note: str = "") -> StockMovement:
    """Add ``delta`` (negative to take) to a part's stock, never below zero."""
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise InvalidInput("delta must be a non-zero integer.", field="delta")
    if reason not in Reason.values:
        raise InvalidInput(f"reason must be one of {Reason.values}.", field="reason")
    with transaction.atomic():
        (movement,) = apply_stock_deltas({part.pk: delta}, reason=reason, note=note)
    return movement


# --- the one place stock changes ---------------------------------------------


@lru_cache(maxsize=8)
def _lock_parts_sql(id_arrays: str = "") -> str:
    quote = connection.ops.quote_name
    part_columns = ", ".join(f"p.{quote(field.column)}" for field in SparePart._meta.concrete_fields)
    category_columns = ", ".join(f"c.{quote(field.column)}" for field in Category._meta.concrete_fields)
    new_ids = "WITH new_ids AS (SELECT " + id_arrays + ") " if id_arrays else ""
    return (
        f"{new_ids}SELECT {part_columns}, {category_columns}{', new_ids.*' if id_arrays else ''} "
        f"FROM {quote(SparePart._meta.db_table)} p LEFT JOIN {quote(Category._meta.db_table)} c "
        f"ON c.{quote(Category._meta.pk.column)} = p.{quote(SparePart._meta.get_field('category').column)} "
        f"{'CROSS JOIN new_ids ' if id_arrays else ''}"
        f"WHERE p.{quote(SparePart._meta.pk.column)} = ANY(%s::bigint[]) ORDER BY p.{quote(SparePart._meta.pk.column)} "
        "FOR UPDATE OF p"
    )


def lock_parts(part_ids: Iterable[int]) -> dict[int, SparePart]:
    """Lock the parts' rows in id order (so concurrent orders never deadlock).

    One SQL text for any number of ids, built once (the ORM compiled the same
    SELECT … FOR UPDATE for every order). The category comes along for the
    response; only the parts' rows are locked.
    """
    parts, _ = lock_parts_allocating_ids(part_ids)
    return parts


def lock_parts_allocating_ids(
    part_ids: Iterable[int], *wanted: tuple[type[models.Model], int]
) -> tuple[dict[int, SparePart], list[list[int]] | None]:
    """:func:`lock_parts`, and ids for new rows (``maintenance.db.allocate_ids``) in the same round trip.

    Every order runs this. The ids are ``None`` when none of the parts exists
    (then nothing is written).
    """
    ids = sorted({int(part_id) for part_id in part_ids})
    id_arrays, id_params = allocate_ids_sql(*wanted) if wanted else ("", [])
    with connection.cursor() as cursor:
        # The ids as an array literal: psycopg's list adapter inspects every element to choose a type.
        cursor.execute(_lock_parts_sql(id_arrays), [*id_params, "{" + ",".join(map(str, ids)) + "}"])
        rows = cursor.fetchall()
    part_names = [field.attname for field in SparePart._meta.concrete_fields]
    category_names = [field.attname for field in Category._meta.concrete_fields]
    width, category_width = len(part_names), len(category_names)
    category_field = SparePart._meta.get_field("category")
    parts, alias = {}, connection.alias
    for row in rows:
        part = SparePart.from_db(alias, part_names, row[:width])
        category_row = row[width : width + category_width]
        category = None if category_row[0] is None else Category.from_db(alias, category_names, category_row)
        category_field.set_cached_value(part, category)
        parts[part.pk] = part
    new_ids = list(rows[0][width + category_width :]) if rows and wanted else None
    return parts, new_ids


@dataclass
class StockChange:
    """Stock deltas checked against locked parts, ready to be written.

    :meth:`write` sends the guarded stock ``UPDATE``, the ledger rows and the
    audit rows as one statement: alone (:func:`apply_stock_deltas`) or with the
    caller's own rows (``orders.services.place_order``).
    """

    parts: Mapping[int, SparePart]
    deltas: dict[int, int]
    movements: list[StockMovement]
    audit_entries: list
    changed_at: datetime.datetime

    def update_statement(self) -> Statement:
        ids = sorted(self.deltas)
        # The delta is a bigint, so stock + delta is summed in bigint: in integer a sum
        # above 2**31 - 1 failed ("integer out of range") before the guard could refuse it.
        values = ", ".join(["(%s::bigint, %s::bigint)"] * len(ids))
        params = [self.changed_at, *(item for part_id in ids for item in (part_id, self.deltas[part_id]))]
        # Guarded: the WHERE makes the database refuse a stock below zero or above the
        # maximum even if a caller forgot to lock (the row count then differs, and
        # execute_together raises); the check constraints are the last line.
        return Statement(
            f"UPDATE {SparePart._meta.db_table} AS p SET stock = p.stock + v.delta, date_updated = %s "
            f"FROM (VALUES {values}) AS v(id, delta) "
            f"WHERE p.id = v.id AND p.stock + v.delta BETWEEN 0 AND {MAX_STOCK:d} RETURNING p.id",
            params,
            len(ids),
        )

    def write(self, *, rows: Sequence[Sequence[models.Model]] = (), audit_entries: Sequence | None = None) -> None:
        """Write the change as one statement, with the caller's new ``rows`` (a list per model,
        ids allocated) and the audit rows of ``audit_entries`` (default: the change's own; a
        caller that adds rows passes its entries with ``self.audit_entries`` among them).

        Raises :class:`InsufficientStock` if the guarded UPDATE found less stock than the
        locked rows showed; the caller's transaction then rolls back.
        """
        audit_rows = audit.build_entries(self.audit_entries if audit_entries is None else audit_entries)
        new_rows = [*rows, self.movements, audit_rows]
        try:
            statements = [self.update_statement(), *(insert_statement(group) for group in new_rows)]
            execute_together(statements, saved=new_rows)
        except RowCountMismatch as exc:
            raise InsufficientStock("Stock changed concurrently; nothing was changed. Retry.") from exc
        # The locked parts in memory, as the statement left them.
        for movement in self.movements:
            part = self.parts[movement.spare_part_id]
            part.stock = movement.stock_after
            part.date_updated = self.changed_at


def prepare_stock_deltas(
    deltas: Mapping[int, int],
    *,
    reason: str,
    locked: Mapping[int, SparePart],
    movement_ids: Iterable[int],
    order=None,
    note: str = "",
) -> StockChange:
    """Check ``deltas`` (part id -> change, none zero) against parts the caller has locked.

    Raises :class:`NotFound` for unknown ids, :class:`InsufficientStock` if any
    stock would go below zero and :class:`Conflict` (``stock_above_maximum``) if
    above ``MAX_STOCK``; then nothing is written. The ledger rows get the
    ids in ``movement_ids`` (from ``maintenance.db.allocate_ids``).
    """
    missing = sorted(part_id for part_id in deltas if part_id not in locked)
    if missing:
        raise NotFound(f"Spare parts not found: {missing}", extra={"missing_ids": missing})
    ids = sorted(deltas)
    for part_id in ids:
        part = locked[part_id]
        if part.stock + deltas[part_id] < 0:
            raise InsufficientStock(
                f"Insufficient stock for '{part.name}' (SKU: {part.sku}). "
                f"Available: {part.stock}, Requested: {-deltas[part_id]}",
                extra={"sku": part.sku, "available": part.stock, "requested": -deltas[part_id]},
            )
        if part.stock + deltas[part_id] > MAX_STOCK:
            raise Conflict(
                f"Stock of '{part.name}' (SKU: {part.sku}) cannot exceed the maximum of {MAX_STOCK}. "
                f"Available: {part.stock}, Added: {deltas[part_id]}",
                code="stock_above_maximum",
                extra={"sku": part.sku, "available": part.stock, "added": deltas[part_id], "max_stock": MAX_STOCK},
            )
    actor = current_actor()
    movements = [
        StockMovement(
            id=movement_id,
            spare_part_id=part_id,
            delta=deltas[part_id],
            # The row is locked: its stock now plus the delta is what the UPDATE leaves.
            stock_after=locked[part_id].stock + deltas[part_id],
            reason=reason,
            order=order,
            actor=actor,
            note=note or "",
        )
        for part_id, movement_id in zip(ids, movement_ids, strict=True)
    ]
    entries = [
        (locked[m.spare_part_id], Auditor.Action.UPDATE, {"stock": [m.stock_after - m.delta, m.stock_after]})
        for m in movements
    ]
    return StockChange(dict(locked), {part_id: deltas[part_id] for part_id in ids}, movements, entries, timezone.now())


def apply_stock_deltas(
    deltas: Mapping[int, int],
    *,
    reason: str,
    order=None,
    note: str = "",
    locked: Mapping[int, SparePart] | None = None,
) -> list[StockMovement]:
    """Change several parts' stock in the caller's transaction, with ledger and audit rows.

    ``locked`` may pass parts already locked by the caller (with their current
    stock); otherwise they are locked here. Raises :class:`NotFound` for unknown
    ids, :class:`InsufficientStock` if any stock would go below zero and a
    ``stock_above_maximum`` :class:`Conflict` if above ``MAX_STOCK``; then nothing
    is changed. The stock, ledger and audit rows are one statement.
    """
    assert connection.in_atomic_block, "apply_stock_deltas must run inside a transaction"
    deltas = {part_id: delta for part_id, delta in deltas.items() if delta}
    if not deltas:
        return []
    if locked is None:
        parts, new_ids = lock_parts_allocating_ids(deltas, (StockMovement, len(deltas)))
        movement_ids = new_ids[0] if new_ids else []  # no part found: prepare_stock_deltas says which
    else:
        parts = dict(locked)
        (movement_ids,) = allocate_ids((StockMovement, len(deltas)))
    change = prepare_stock_deltas(
        deltas, reason=reason, locked=parts, movement_ids=movement_ids, order=order, note=note
    )
    change.write()
    return change.movements


__all__ = [
    "StockChange",
    "adjust_stock",
    "apply_stock_deltas",
    "create_category",
    "create_spare_part",
    "delete_category",
    "delete_spare_part",
    "get_part_by_sku",
    "lock_parts",
    "lock_parts_allocating_ids",
    "prepare_stock_deltas",
    "update_category",
    "update_spare_part",
]

"""Inventory business rules. The API, the admin and the order services call these.

Every change of a part's stock goes through :func:`apply_stock_deltas`, which
locks the rows in id order, refuses to go below zero or above ``MAX_STOCK``,
updates stock with one guarded statement, writes one ledger movement per part
and the audit rows, all in the caller's transaction. So
``stock == sum(movement.delta)`` always holds.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory import stock_sql
from inventory.models import MAX_STOCK, Category, SparePart, StockMovement
from inventory.validators import normalize_sku, sku_error
from maintenance.api.concurrency import check_version
from maintenance.api.errors import BusinessError, Conflict, InsufficientStock, InvalidInput, NotFound
from maintenance.audit.context import current_actor
from maintenance.audit.models import Auditor
from maintenance.audit.signals import audit_rows, rows_updated, write_audit_rows

Reason = StockMovement.Reason

# --- categories --------------------------------------------------------------


def _category_taken(name: str) -> str:
    return _("A category named '%(name)s' already exists.") % {"name": name}


def _check_category_name(name: str, *, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("This field may not be blank."), field="name")
    duplicates = Category.objects.annotate(lname=Lower("name")).filter(lname=name.lower())
    if exclude_pk is not None:
        duplicates = duplicates.exclude(pk=exclude_pk)
    if duplicates.exists():
        raise InvalidInput(_category_taken(name), field="name", code="already_exists")
    return name


def _save_category(category: Category) -> Category:
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError as exc:  # a concurrent insert won the race
        raise InvalidInput(_category_taken(category.name), field="name", code="already_exists") from exc
    return category


def create_category(*, name: str, description: str = "") -> Category:
    return _save_category(Category(name=_check_category_name(name), description=description or ""))


def _require_fields(fields: Mapping) -> None:
    if not fields:
        raise InvalidInput(_("No fields to update."), code="no_fields")


def update_category(category: Category, *, expected_version=None, **fields) -> Category:
    """Change a category's fields; ``expected_version`` (its ``date_updated`` as the client read it) refuses
    a change based on an old read."""
    _require_fields(fields)
    with transaction.atomic():
        # Locked: the audit's old values and the version check see the row as it is.
        category = Category.objects.select_for_update().filter(pk=category.pk).first()
        if category is None:
            raise NotFound(_("Category not found."))
        check_version(category, expected_version)
        if "name" in fields:
            category.name = _check_category_name(fields["name"], exclude_pk=category.pk)
        if "description" in fields:
            category.description = fields["description"] or ""
        return _save_category(category)


def delete_category(category: Category) -> None:
    """Delete a category; its parts stay, with no category."""
    with transaction.atomic():
        # The FK's SET_NULL runs as a bulk UPDATE, which model signals don't see: it is announced
        # to the audit receivers, whose rows are written here.
        category_id = category.pk  # delete() clears the instance's pk
        parts = list(SparePart.objects.filter(category=category).order_by("pk").select_for_update())
        category.delete()
        write_audit_rows(
            rows_updated, SparePart, changes=[(part, {"category_id": [category_id, None]}) for part in parts]
        )


# --- spare parts -------------------------------------------------------------


def _sku_taken(sku: str) -> InvalidInput:
    return InvalidInput(
        _("A spare part with SKU '%(sku)s' already exists.") % {"sku": sku}, field="sku", code="already_exists"
    )


def clean_sku(value: str) -> str:
    message = sku_error(value)
    if message:
        raise InvalidInput(message, field="sku", code="invalid_sku")
    return normalize_sku(value)


def _check_price(price) -> Decimal:
    if price is None or Decimal(price) < 0:
        raise InvalidInput(_("Price must be zero or more."), field="price")
    # Without a sign, -0 is the 0 PostgreSQL stores: the answer then says "0.00" like later reads.
    return Decimal(price).copy_abs()


def _check_count(value, field: str) -> int:
    """A number of units: zero or more, at most ``MAX_STOCK``."""
    if value is None or int(value) < 0:
        raise InvalidInput(_("%(field)s must be zero or more.") % {"field": field}, field=field)
    if int(value) > MAX_STOCK:
        raise InvalidInput(
            _("%(field)s must be at most %(max)s.") % {"field": field, "max": MAX_STOCK},
            field=field,
            extra={"max_stock": MAX_STOCK},
        )
    return int(value)


def get_part_by_sku(sku: str) -> SparePart:
    sku = normalize_sku(sku)
    # PostgreSQL text cannot hold NUL, so no part has it (and the query would fail).
    part = None if "\x00" in sku else SparePart.objects.select_related("category").filter(sku=sku).first()
    if part is None:
        raise NotFound(_("Spare part with SKU '%(sku)s' not found.") % {"sku": sku})
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
        raise InvalidInput(
            _("Category %(id)s no longer exists.") % {"id": category.pk}, field="category_id", code="does_not_exist"
        )
    return held


def update_spare_part(part: SparePart, *, note: str = "", expected_version=None, **fields) -> SparePart:
    """Change a part's fields. A new ``stock`` is recorded as an ``adjustment`` movement.

    ``expected_version`` (the part's ``date_updated`` as the client read it) refuses a change
    based on an old read (:func:`check_version`).
    """
    _require_fields(fields)
    unknown = set(fields) - set(UPDATABLE_PART_FIELDS) - {"stock"}
    if unknown:
        raise InvalidInput(_("Unknown fields: %(fields)s.") % {"fields": sorted(unknown)})
    with transaction.atomic():
        locked = SparePart.objects.select_for_update().get(pk=part.pk)
        check_version(locked, expected_version)
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
    """Delete a part unless an order uses it: order history is protected.

    Order lines are seen through the reverse relation (``order_items``), so inventory
    needs no import of orders: orders depend on inventory, never the other way.
    """
    in_use = Conflict(
        _("Spare part '%(sku)s' appears on service orders and cannot be deleted.") % {"sku": part.sku},
        code="part_in_use",
    )
    try:
        with transaction.atomic():
            # Orders lock their parts before adding lines: with the row locked, no new line
            # can appear between the check and the delete.
            locked = SparePart.objects.select_for_update().filter(pk=part.pk).first()
            if locked is None:
                raise NotFound(_("Spare part with SKU '%(sku)s' not found.") % {"sku": part.sku})
            if locked.order_items.exists():
                raise in_use
            locked.delete()
    except ProtectedError as exc:  # the last line: a line the check missed, seen by the foreign key's PROTECT
        raise in_use from exc
    except IntegrityError as exc:  # or by the database's own foreign key check, at commit
        if not SparePart(pk=part.pk).order_items.exists():
            raise
        raise in_use from exc


def adjust_stock(part: SparePart, *, delta: int, reason: str = Reason.ADJUSTMENT, note: str = "") -> StockMovement:
    """Add ``delta`` (negative to take) to a part's stock, never below zero."""
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise InvalidInput(_("delta must be a non-zero integer."), field="delta")
    if reason not in Reason.values:
        raise InvalidInput(_("reason must be one of %(reasons)s.") % {"reasons": Reason.values}, field="reason")
    with transaction.atomic():
        (movement,) = apply_stock_deltas({part.pk: delta}, reason=reason, note=note)
    return movement


# --- receiving and correcting stock ------------------------------------------

#: What a clerk records by hand, with how the quantity moves the stock.
RECEIVING_REASONS = (Reason.RECEIPT, Reason.RETURNED, Reason.DAMAGED, Reason.COUNT)


@dataclass(frozen=True)
class ReceivedLine:
    sku: str
    quantity: int
    reason: str


def receive_stock(*, lines: Iterable[ReceivedLine], note: str = "") -> list[StockMovement]:
    """Record a delivery or a correction of several parts at once, all or nothing.

    Each line names a part by SKU, a quantity and a reason: ``receipt`` and ``returned``
    add the quantity, ``damaged`` takes it away, ``count`` sets the stock to the counted
    quantity (a stocktake). Lines of one part and reason add up. The parts are locked
    in id order first. Errors name the line (``lines.<n>.<field>``) that caused them.
    """
    lines = list(lines)
    if not lines:
        raise InvalidInput(_("Give at least one line."), field="lines", code="no_lines")
    skus = {normalize_sku(line.sku) for line in lines}
    ids = dict(SparePart.objects.filter(sku__in=skus).values_list("sku", "pk"))
    for index, line in enumerate(lines):
        if line.reason not in RECEIVING_REASONS:
            raise InvalidInput(
                _("reason must be one of %(reasons)s.") % {"reasons": list(RECEIVING_REASONS)},
                field=f"lines.{index}.reason",
            )
        if normalize_sku(line.sku) not in ids:
            raise NotFound(_("No spare part has the SKU '%(sku)s'.") % {"sku": line.sku}, field=f"lines.{index}.sku")
        if line.quantity < (0 if line.reason == Reason.COUNT else 1):
            raise InvalidInput(_("The quantity must be at least 1."), field=f"lines.{index}.quantity")
    with transaction.atomic():
        parts = lock_parts(ids.values())
        movements = []
        for reason in RECEIVING_REASONS:
            deltas: dict[int, int] = {}
            for line in lines:
                if line.reason != reason:
                    continue
                part = parts[ids[normalize_sku(line.sku)]]
                if reason == Reason.COUNT:
                    deltas[part.pk] = line.quantity - part.stock  # the last count of a part wins
                else:
                    sign = -1 if reason == Reason.DAMAGED else 1
                    deltas[part.pk] = deltas.get(part.pk, 0) + sign * line.quantity
            try:
                movements += apply_stock_deltas(deltas, reason=reason, note=note, locked=parts)
            except BusinessError as error:
                sku = (error.extra or {}).get("sku")
                index = next((n for n, line in enumerate(lines) if normalize_sku(line.sku) == sku), None)
                if index is not None:
                    error.field = f"lines.{index}.quantity"
                raise
        return movements


# --- the one place stock changes ---------------------------------------------


def lock_parts(part_ids: Iterable[int]) -> dict[int, SparePart]:
    """Lock the parts' rows in id order (so concurrent changes never deadlock), categories loaded."""
    parts, _, _ = stock_sql.lock_parts(part_ids)
    return parts


@dataclass(frozen=True)
class StockChange:
    """Stock deltas checked against locked parts: the ledger rows and audit rows that write them."""

    parts: Mapping[int, SparePart]
    movements: list[StockMovement]
    audit_rows: list[Auditor]
    changed_at: datetime.datetime  # every row of the change carries it

    def write(self, *, audit_rows: list[Auditor] | None = None, order=None, lines=()) -> None:
        """Write the change (with a new ``order`` and its ``lines``, and the caller's ``audit_rows``
        in place of the change's own) as one statement; the parts in memory take their new stock.

        Raises :class:`InsufficientStock` if a stock left its bounds after all (a caller that
        did not lock); the caller's transaction then rolls back.
        """
        try:
            stock_sql.write(
                movements=self.movements,
                audit_rows=self.audit_rows if audit_rows is None else audit_rows,
                changed_at=self.changed_at,
                order=order,
                lines=lines,
            )
        except stock_sql.StockGuardFailed as exc:
            raise InsufficientStock(_("Stock changed concurrently; nothing was changed. Retry.")) from exc
        for movement in self.movements:
            part = self.parts[movement.spare_part_id]
            part.stock, part.date_updated = movement.stock_after, self.changed_at


def prepare_stock_change(
    deltas: Mapping[int, int],
    *,
    reason: str,
    locked: Mapping[int, SparePart],
    order_id: int | None = None,
    note: str = "",
) -> StockChange:
    """Check ``deltas`` (part id -> change, none zero) against parts the caller has locked.

    Raises :class:`NotFound` for unknown ids, :class:`InsufficientStock` if any stock
    would go below zero and :class:`Conflict` (``stock_above_maximum``) if above
    ``MAX_STOCK``, one error for the first line that fails, before anything is written.
    """
    missing = sorted(part_id for part_id in deltas if part_id not in locked)
    if missing:
        raise NotFound(_("Spare parts not found: %(ids)s") % {"ids": missing}, extra={"missing_ids": missing})
    ids = sorted(deltas)
    for part_id in ids:
        part = locked[part_id]
        if part.stock + deltas[part_id] < 0:
            raise InsufficientStock(
                _(
                    "Insufficient stock for '%(name)s' (SKU: %(sku)s). "
                    "Available: %(available)s, Requested: %(requested)s"
                )
                % {"name": part.name, "sku": part.sku, "available": part.stock, "requested": -deltas[part_id]},
                extra={"sku": part.sku, "available": part.stock, "requested": -deltas[part_id]},
            )
        if part.stock + deltas[part_id] > MAX_STOCK:
            raise Conflict(
                _(
                    "Stock of '%(name)s' (SKU: %(sku)s) cannot exceed the maximum of %(max)s. "
                    "Available: %(available)s, Added: %(added)s"
                )
                % {
                    "name": part.name,
                    "sku": part.sku,
                    "max": MAX_STOCK,
                    "available": part.stock,
                    "added": deltas[part_id],
                },
                code="stock_above_maximum",
                extra={"sku": part.sku, "available": part.stock, "added": deltas[part_id], "max_stock": MAX_STOCK},
            )
    actor = current_actor()
    movements = [
        StockMovement(
            spare_part_id=part_id,
            delta=deltas[part_id],
            # The row is locked: its stock now plus the delta is what the UPDATE leaves.
            stock_after=locked[part_id].stock + deltas[part_id],
            reason=reason,
            order_id=order_id,
            actor=actor,
            note=note or "",
        )
        for part_id in ids
    ]
    changes = [(locked[m.spare_part_id], {"stock": [m.stock_after - m.delta, m.stock_after]}) for m in movements]
    return StockChange(
        parts=dict(locked),
        movements=movements,
        audit_rows=audit_rows(rows_updated, SparePart, changes=changes),
        changed_at=timezone.now(),
    )


def apply_stock_deltas(
    deltas: Mapping[int, int],
    *,
    reason: str,
    order_id: int | None = None,
    note: str = "",
    locked: Mapping[int, SparePart] | None = None,
) -> list[StockMovement]:
    """Change several parts' stock in the caller's transaction, with ledger and audit rows.

    ``locked`` may pass parts already locked by the caller (with their current
    stock); otherwise they are locked here. Raises :class:`NotFound` for unknown
    ids, :class:`InsufficientStock` if any stock would go below zero and a
    ``stock_above_maximum`` :class:`Conflict` if above ``MAX_STOCK``; then nothing
    is changed. The stock, ledger and audit rows are one statement (``stock_sql``).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_stock_deltas must run inside the transaction that holds the parts' locks.")
    deltas = {part_id: delta for part_id, delta in deltas.items() if delta}
    if not deltas:
        return []
    parts = lock_parts(deltas) if locked is None else locked
    change = prepare_stock_change(deltas, reason=reason, locked=parts, order_id=order_id, note=note)
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
    "prepare_stock_change",
    "update_category",
    "update_spare_part",
]

"""Service-order business rules, used by the API and the admin alike.

Placing an order locks the parts' rows in id order, checks stock on the total
requested per part, and writes the order, its lines, the stock decrements (one
guarded ``UPDATE``), the ledger movements and the audit rows as one statement
(``inventory.stock_sql``, the stock hot path), in one transaction. The number of
queries does not grow with the lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from inventory import services as inventory
from inventory import stock_sql
from inventory.models import SparePart, StockMovement
from maintenance.api.concurrency import check_version
from maintenance.api.errors import Conflict, InsufficientStock, InvalidInput, InvalidTransition, NotFound
from maintenance.audit.context import current_actor
from maintenance.audit.signals import audit_rows, rows_created
from media_uploads import services as media
from media_uploads.models import ServiceOrderImage
from orders.models import ALLOWED_TRANSITIONS, OrderStatus, ServiceOrder, ServiceOrderItem

CLIENT_FIELDS = ("client_name", "client_phone", "client_email", "description")


# The unique constraint that makes a request_id place one order per user.
REQUEST_ID_CONSTRAINT = "orders_serviceorder_request_id_unique"


@dataclass(frozen=True)
class OrderLine:
    spare_part_id: int
    quantity: int


@dataclass(frozen=True)
class PlacedOrder:
    """What :func:`place_order` did: the order, and whether an earlier request had placed it.

    A new order comes with its lines and their locked parts (categories loaded), as written:
    the API answers from them without reading the order back.
    """

    order: ServiceOrder
    replayed: bool = False
    lines: list[ServiceOrderItem] | None = None
    parts: dict[int, SparePart] | None = None


def _clean_lines(lines: Sequence) -> list[OrderLine]:
    if not lines:
        raise InvalidInput(_("An order needs at least one item."), field="items", code="no_items")
    if len(lines) > settings.MAX_ORDER_LINES:
        raise InvalidInput(
            _("An order may have at most %(max)s items; got %(count)s.")
            % {"max": settings.MAX_ORDER_LINES, "count": len(lines)},
            field="items",
            code="too_many_items",
        )
    cleaned = []
    for line in lines:
        if isinstance(line, dict):
            line = OrderLine(int(line["spare_part_id"]), int(line["quantity"]))
        if line.quantity < 1 or line.quantity > settings.MAX_LINE_QUANTITY:
            raise InvalidInput(
                _("quantity must be between 1 and %(max)s; got %(quantity)s.")
                % {"max": settings.MAX_LINE_QUANTITY, "quantity": line.quantity},
                field="items.quantity",
            )
        cleaned.append(line)
    return cleaned


def _largest_total() -> Decimal:
    field = ServiceOrder._meta.get_field("total")
    return Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(10) ** -field.decimal_places


def _check_total(total: Decimal) -> None:
    # Prices and quantities within their own limits can still add up past what the column holds.
    largest = _largest_total()
    if total > largest:
        raise InvalidInput(
            _("The order's total would be %(total)s; an order's total may be at most %(largest)s.")
            % {"total": total, "largest": largest},
            field="items",
            code="total_too_large",
        )


def _totals_per_part(lines: list[OrderLine]) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for line in lines:
        totals[line.spare_part_id] += line.quantity
    return dict(totals)


def place_order(
    *,
    request_id: str,
    items: Sequence,
    client_name: str = "",
    client_phone: str = "",
    client_email: str = "",
    description: str = "",
    created_by=None,
) -> PlacedOrder:
    """Create an order and take its parts from stock, all or nothing."""
    request_id = str(request_id or "").strip()
    if not request_id:
        raise InvalidInput(_("request_id is required."), field="request_id", code="required")
    lines = _clean_lines(items)
    requested = _totals_per_part(lines)
    created_by = created_by if created_by is not None else current_actor()
    if created_by is None and ServiceOrder.objects.filter(created_by=None, request_id=request_id).exists():
        # The database holds a request_id unique per user only (a deleted user's orders keep theirs):
        # an order placed without a user (a management command, never concurrent) is looked up first.
        return _placed_before(None, request_id, lines, Conflict("request_id taken", code="duplicate_request"))
    try:
        with transaction.atomic():
            # The new rows' ids come with the locked parts, so the audit rows can name them
            # and everything is written by one statement.
            parts, order_ids, line_ids = stock_sql.lock_parts(requested, new_orders=1, new_lines=len(lines))
            missing = sorted(set(requested) - set(parts))
            if missing:
                raise NotFound(_("Spare parts not found: %(ids)s") % {"ids": missing}, extra={"missing_ids": missing})
            (order_id,) = order_ids
            total = sum((line.quantity * parts[line.spare_part_id].price for line in lines), Decimal("0.00"))
            _check_total(total)
            order = ServiceOrder(
                id=order_id,
                request_id=request_id,
                client_name=client_name or "",
                client_phone=client_phone or "",
                client_email=client_email or "",
                description=description or "",
                total=total,
                created_by=created_by,
            )
            # Raises InsufficientStock before anything is written.
            stock = inventory.prepare_stock_change(
                {part_id: -quantity for part_id, quantity in requested.items()},
                reason=StockMovement.Reason.ORDER,
                locked=parts,
                order_id=order_id,
            )
            order_lines = [
                ServiceOrderItem(
                    id=line_id,
                    order=order,
                    spare_part=parts[line.spare_part_id],
                    quantity=line.quantity,
                    unit_price=parts[line.spare_part_id].price,
                )
                for line, line_id in zip(lines, line_ids, strict=True)
            ]
            stock.write(
                order=order,
                lines=order_lines,
                audit_rows=[
                    *audit_rows(rows_created, ServiceOrder, instances=[order]),
                    *stock.audit_rows,
                    *audit_rows(rows_created, ServiceOrderItem, instances=order_lines),
                ],
            )
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != REQUEST_ID_CONSTRAINT:
            raise
        return _placed_before(created_by, request_id, lines, exc)
    except (InsufficientStock, NotFound) as exc:
        # A retry of an order that was placed (its answer lost, or its idempotency key
        # expired) would find the stock it took gone: it gets its order, not a refusal.
        return _placed_before(created_by, request_id, lines, exc)
    return PlacedOrder(order, lines=order_lines, parts=parts)


def _placed_before(created_by, request_id: str, lines: list[OrderLine], exc: Exception) -> PlacedOrder:
    """The order this request_id already placed, if it has these lines; else ``exc`` or a conflict."""
    existing = ServiceOrder.objects.filter(created_by=created_by, request_id=request_id).first()
    if existing is None:
        raise exc
    if _same_lines(existing, lines):
        # The same order was placed before but its answer was lost (e.g. a 503
        # after the commit, when the idempotency record was released): the
        # retry gets that order, never a second one.
        return PlacedOrder(existing, replayed=True)
    raise Conflict(
        _("An order with request_id '%(request_id)s' already exists with other items.") % {"request_id": request_id},
        field="request_id",
        code="duplicate_request",
    ) from exc


def _same_lines(order: ServiceOrder, lines: list[OrderLine]) -> bool:
    placed = sorted(ServiceOrderItem.objects.filter(order=order).values_list("spare_part_id", "quantity"))
    return placed == sorted((line.spare_part_id, line.quantity) for line in lines)


def existing_order(order_id: int, *, lock: bool = False) -> ServiceOrder:
    """The order, or NotFound naming it (the API's 404)."""
    orders = ServiceOrder.objects.select_for_update() if lock else ServiceOrder.objects
    order = orders.filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("Service order %(id)s not found.") % {"id": order_id})
    return order


def _lock_order(order_id: int) -> ServiceOrder:
    return existing_order(order_id, lock=True)


def _require_open(order: ServiceOrder, what: str = "lines") -> None:
    """Refuse a change to a final order; ``what`` changes: its ``lines``, ``details`` or ``photos``."""
    if order.is_final:
        messages = {
            "lines": _("Order %(id)s is %(status)s; its lines can no longer change."),
            "details": _("Order %(id)s is %(status)s; its client details can no longer change."),
            "photos": _("Order %(id)s is %(status)s; its photos can no longer change."),
        }
        status = str(order.get_status_display()).lower()
        raise Conflict(messages[what] % {"id": order.pk, "status": status}, code="order_final")


def _recompute_total(order: ServiceOrder) -> None:
    lines = ServiceOrderItem.objects.filter(order=order).values_list("quantity", "unit_price")
    order.total = sum((quantity * price for quantity, price in lines), Decimal("0.00"))
    order.save(update_fields=["total", "date_updated"])


def lock_for_line_changes(order_id: int, part_ids: Sequence[int]) -> ServiceOrder:
    """Lock an order and then every part its line changes will touch, in id order.

    For a caller that adds and removes several lines in one transaction (the admin's
    order page). Each :func:`add_order_item` / :func:`remove_order_item` locks the order
    and then its one part: in a row, they would lock the parts in form order, while
    :func:`place_order` locks them in id order, and the two could deadlock. Taken here
    up front, in the order every path uses (the order, then parts by id), the later
    locks are already held. Only inside the caller's transaction, which keeps them.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_for_line_changes must run inside the transaction that makes the changes.")
    order = _lock_order(order_id)
    inventory.lock_parts(part_ids)
    return order


def add_order_item(order_id: int, *, spare_part_id: int, quantity: int) -> ServiceOrderItem:
    (line,) = _clean_lines([OrderLine(int(spare_part_id), int(quantity))])
    with transaction.atomic():
        order = _lock_order(order_id)
        _require_open(order)
        parts = inventory.lock_parts([line.spare_part_id])
        inventory.apply_stock_deltas(
            {line.spare_part_id: -line.quantity}, reason=StockMovement.Reason.ORDER, order_id=order.pk, locked=parts
        )
        _check_total(order.total + line.quantity * parts[line.spare_part_id].price)  # rolls the stock back
        item = ServiceOrderItem.objects.create(
            order=order,
            spare_part_id=line.spare_part_id,
            quantity=line.quantity,
            unit_price=parts[line.spare_part_id].price,
        )
        _recompute_total(order)
    return item


def remove_order_item(order_id: int, item_id: int) -> None:
    with transaction.atomic():
        order = _lock_order(order_id)
        _require_open(order)
        item = ServiceOrderItem.objects.filter(order=order, pk=item_id).first()
        if item is None:
            raise NotFound(_("Item %(item)s not found on order %(order)s.") % {"item": item_id, "order": order_id})
        if order.items.count() == 1:
            raise Conflict(_("An order keeps at least one item; cancel the order instead."), code="last_item")
        inventory.apply_stock_deltas(
            {item.spare_part_id: item.quantity}, reason=StockMovement.Reason.ORDER_LINE_REMOVED, order_id=order.pk
        )
        item.delete()
        _recompute_total(order)


def delete_order(order_id: int) -> None:
    """Delete a completed or cancelled order.

    An open order is refused: deleting it would lose the ledger's link to it and
    not give its stock back; cancel it first (its parts go back to stock).
    """
    with transaction.atomic():
        order = _lock_order(order_id)
        if not order.is_final:
            raise Conflict(
                _("Order %(id)s is still %(status)s: cancel it (its parts go back to stock) before deleting it.")
                % {"id": order.pk, "status": str(order.get_status_display()).lower()},
                code="order_open",
            )
        order.delete()


def update_order_details(order_id: int, *, expected_version=None, **fields) -> ServiceOrder:
    """Edit the client fields of an order that is not final (``expected_version``: see ``check_version``)."""
    unknown = set(fields) - set(CLIENT_FIELDS)
    if unknown:
        raise InvalidInput(_("These fields cannot be changed: %(fields)s.") % {"fields": sorted(unknown)})
    with transaction.atomic():
        order = _lock_order(order_id)
        check_version(order, expected_version)
        if fields:
            _require_open(order, "details")
            for name, value in fields.items():
                setattr(order, name, value or "")
            order.save()
    return order


def change_status(order_id: int, new_status: str) -> ServiceOrder:
    """Move an order along its lifecycle; cancelling returns its parts to stock."""
    if new_status not in OrderStatus.values:
        raise InvalidInput(
            _("status must be one of %(statuses)s; got '%(status)s'.")
            % {"statuses": OrderStatus.values, "status": new_status},
            field="status",
        )
    with transaction.atomic():
        order = _lock_order(order_id)
        if new_status == order.status:
            return order
        allowed = ALLOWED_TRANSITIONS[order.status]
        if new_status not in allowed:
            labels = [str(OrderStatus(status).label) for status in allowed]
            allowed = [str(status) for status in allowed]  # the values, not the enum members' reprs
            raise InvalidTransition(
                _("Cannot move order %(id)s from %(from)s to %(to)s. Allowed next statuses: %(allowed)s.")
                % {
                    "id": order.pk,
                    "from": OrderStatus(order.status).label,
                    "to": OrderStatus(new_status).label,
                    "allowed": ", ".join(labels) or _("none (final status)"),
                },
                field="status",
                extra={"allowed": allowed},
            )
        if new_status == OrderStatus.CANCELLED:
            returned: dict[int, int] = defaultdict(int)
            for part_id, quantity in ServiceOrderItem.objects.filter(order=order).values_list(
                "spare_part_id", "quantity"
            ):
                returned[part_id] += quantity
            inventory.apply_stock_deltas(returned, reason=StockMovement.Reason.ORDER_CANCELLED, order_id=order.pk)
        order.status = new_status
        order.save(update_fields=["status", "date_updated"])
    return order


def update_order(order_id: int, *, status: str | None = None, expected_version=None, **client_fields) -> ServiceOrder:
    """Edit client fields and/or move the status, in one transaction (``expected_version``: see ``check_version``)."""
    if status is None and not client_fields:
        raise InvalidInput(_("No fields to update."), code="no_fields")
    with transaction.atomic():
        order = update_order_details(order_id, expected_version=expected_version, **client_fields)
        if status is not None:
            order = change_status(order_id, status)
    return order


# --- an order's photos ------------------------------------------------------
# The photos themselves (validation by content, storage, signed links) are media_uploads';
# what an order allows is decided here: it must exist and be open, and stays locked while
# a photo's row is written or deleted, so it cannot become final in between.


def upload_order_image(order_id: int, *, data: bytes, original_name: str = "", uploaded_by=None) -> ServiceOrderImage:
    """Validate, upload the original and its thumbnail, then write the row.

    Called outside a transaction, a failure at any step leaves nothing behind.
    Inside a caller's transaction that is later rolled back, the objects would
    stay: call it from the outermost level (the API does).
    """
    _require_open(existing_order(order_id), "photos")
    image = media.inspect_image(data)
    original, thumbnail = media.store_image(prefix=f"orders/{order_id}", image=image)
    try:
        with transaction.atomic():
            _require_open(_lock_order(order_id), "photos")
            return ServiceOrderImage.objects.create(
                order_id=order_id,
                image=original,
                thumbnail=thumbnail,
                original_name=(original_name or "")[:255],
                content_type=image.content_type,
                size_bytes=len(image.data),
                width=image.width,
                height=image.height,
                uploaded_by=uploaded_by,
            )
    except BaseException as exc:
        media.delete_stored_objects([original, thumbnail])
        if isinstance(exc, IntegrityError) and not ServiceOrder.objects.filter(pk=order_id).exists():
            # The order was deleted while the image was uploading.
            raise NotFound(_("Service order %(id)s not found.") % {"id": order_id}) from exc
        raise


def get_order_image(order_id: int, image_id: int) -> ServiceOrderImage:
    image = ServiceOrderImage.objects.filter(order_id=order_id, pk=image_id).first()
    if image is None:
        existing_order(order_id)
        raise NotFound(_("Image %(image)s not found on order %(order)s.") % {"image": image_id, "order": order_id})
    return image


def delete_order_image(order_id: int, image_id: int) -> None:
    """Delete the row now; its objects go once the transaction commits (media_uploads.signals)."""
    with transaction.atomic():
        _require_open(_lock_order(order_id), "photos")
        get_order_image(order_id, image_id).delete()

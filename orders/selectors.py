"""Reads of orders, shaped so a page costs a constant number of queries."""

from django.db.models import Prefetch, QuerySet

from media_uploads.models import ServiceOrderImage
from orders.models import ServiceOrder, ServiceOrderItem


def orders_with_details() -> QuerySet[ServiceOrder]:
    return ServiceOrder.objects.select_related("created_by").prefetch_related(
        Prefetch("items", queryset=ServiceOrderItem.objects.select_related("spare_part__category").order_by("id")),
        Prefetch("images", queryset=ServiceOrderImage.objects.order_by("id")),
    )


def order_with_details(order_id: int) -> ServiceOrder:
    return orders_with_details().get(pk=order_id)


def placed_order_details(order: ServiceOrder) -> ServiceOrder:
    """The order ``place_order`` just wrote, with the relations the API shows, from
    the objects already in memory (no query: the lines, their locked parts and
    categories are at hand, and a new order has no images)."""
    items = order.items_placed
    for item in items:
        item.spare_part = order.parts_placed[item.spare_part_id]
    order._prefetched_objects_cache = {"items": items, "images": []}
    return order

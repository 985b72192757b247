"""Reads of orders, shaped so a page costs a constant number of queries."""

from django.db.models import Prefetch, QuerySet

from media_uploads.models import ServiceOrderImage
from orders.models import ServiceOrder, ServiceOrderItem
from orders.services import PlacedOrder


def orders_with_details() -> QuerySet[ServiceOrder]:
    """Orders with what the API shows of them: ``item_list`` (lines with their parts and
    categories) and ``image_list``, filled by one query each for a whole page."""
    return ServiceOrder.objects.select_related("created_by").prefetch_related(
        Prefetch(
            "items",
            queryset=ServiceOrderItem.objects.select_related("spare_part__category").order_by("id"),
            to_attr="item_list",
        ),
        Prefetch("images", queryset=ServiceOrderImage.objects.order_by("id"), to_attr="image_list"),
    )


def order_with_details(order_id: int) -> ServiceOrder:
    return orders_with_details().get(pk=order_id)


def placed_order_details(placed: PlacedOrder) -> ServiceOrder:
    """The order ``place_order`` just wrote, shaped as :func:`orders_with_details` shapes orders,
    from what the placement has in memory: its lines, which hold their locked parts and
    categories, and no images yet. No query reads back what was just written."""
    order = placed.order
    order.item_list = placed.lines
    order.image_list = []
    return order

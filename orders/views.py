"""Service-order API: thin viewsets that route to :mod:`orders.services`."""

import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.models import SparePart
from maintenance.api.concurrency import VersionedViewMixin
from maintenance.api.schema import (
    InsufficientStockErrorSerializer,
    InvalidTransitionErrorSerializer,
    PartsNotFoundErrorSerializer,
    StockAboveMaximumErrorSerializer,
    error_response,
)
from orders import selectors, services
from orders.filters import ServiceOrderFilter
from orders.serializers import (
    OrderCreateSerializer,
    OrderLineInputSerializer,
    OrderUpdateSerializer,
    ServiceOrderSerializer,
)

# The route's pattern (\d{1,18}) would be documented as a string; an order's id is an integer.
ORDER_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The order's `id`.")


@extend_schema_view(
    list=extend_schema(summary="List service orders"),
    retrieve=extend_schema(summary="Get a service order", parameters=[ORDER_ID]),
)
class ServiceOrderViewSet(
    VersionedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = selectors.orders_with_details()
    serializer_class = ServiceOrderSerializer
    lookup_value_regex = r"\d{1,18}"
    filterset_class = ServiceOrderFilter
    search_fields = ["client_name", "client_email", "client_phone", "request_id", "description"]
    ordering_fields = ["date_created", "date_updated", "total", "id"]
    ordering = ["-date_created", "-id"]
    required_permissions = {
        "add_item": ["orders.change_serviceorder"],
        "remove_item": ["orders.change_serviceorder"],
    }

    def browsable_api_example(self, method: str) -> dict | None:
        """The browsable API's raw-data box for a new order: a fresh request_id and one line."""
        if method != "POST" or self.detail:
            return None
        part_id = SparePart.objects.filter(stock__gt=0).order_by("sku").values_list("pk", flat=True).first()
        return {
            "request_id": f"browser-{uuid.uuid4().hex[:12]}",
            "client_name": "",
            "client_phone": "",
            "client_email": "",
            "description": "",
            "items": [{"spare_part_id": part_id or 1, "quantity": 1}],
        }

    def _respond(self, order_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(ServiceOrderSerializer(selectors.order_with_details(order_id)).data, status=status_code)

    @extend_schema(
        summary="Place a service order",
        description=(
            "Takes the parts from stock atomically. 404 if a part does not exist, 409 if stock is short "
            "(nothing is written). Retrying with the same `request_id` (or `Idempotency-Key`) replays the "
            "first response with `Idempotent-Replayed: true`."
        ),
        request=OrderCreateSerializer,
        responses={
            201: ServiceOrderSerializer,
            404: error_response(
                404, "Spare parts named in `items` do not exist (`missing_ids`).", PartsNotFoundErrorSerializer
            ),
            409: error_response(
                409,
                "Not enough stock for a line (`insufficient_stock`, nothing written), the `request_id` is already "
                "taken by another order (`duplicate_request`), or its first request is still running (retry after "
                "`Retry-After`).",
                InsufficientStockErrorSerializer,
            ),
        },
    )
    def create(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        placed = services.place_order(**serializer.validated_data, created_by=request.user)
        if placed.replayed:
            response = self._respond(placed.order.pk, status.HTTP_201_CREATED)
            response["Idempotent-Replayed"] = "true"
            return response
        # The new order is answered from memory: no query to read back what was just written.
        data = ServiceOrderSerializer(selectors.placed_order_details(placed)).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit client fields or move the status",
        parameters=[ORDER_ID],
        request=OrderUpdateSerializer,
        responses={
            200: ServiceOrderSerializer,
            409: error_response(
                409,
                "The status cannot move there from the current one (`invalid_transition`), or cancelling would return "
                "a part's stock past its maximum (`stock_above_maximum`).",
                InvalidTransitionErrorSerializer,
                StockAboveMaximumErrorSerializer,
            ),
        },
    )
    def partial_update(self, request, pk=None):
        serializer = OrderUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_order(int(pk), expected_version=self.expected_version(), **serializer.validated_data)
        return self._respond(int(pk))

    @extend_schema(
        summary="Add a line to an open order",
        parameters=[ORDER_ID],
        request=OrderLineInputSerializer,
        responses={
            201: ServiceOrderSerializer,
            404: error_response(
                404, "The order or the spare part does not exist (`missing_ids`).", PartsNotFoundErrorSerializer
            ),
            409: error_response(
                409,
                "The order is closed (`order_final`) or stock is short (`insufficient_stock`).",
                InsufficientStockErrorSerializer,
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="items")
    def add_item(self, request, pk=None):
        serializer = OrderLineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.add_order_item(int(pk), **serializer.validated_data)
        return self._respond(int(pk), status.HTTP_201_CREATED)

    @extend_schema(
        summary="Remove a line from an open order (its stock is returned)",
        parameters=[ORDER_ID, OpenApiParameter("item_id", int, OpenApiParameter.PATH, description="The line's `id`.")],
        responses={
            200: ServiceOrderSerializer,
            409: error_response(
                409,
                "The order is closed (`order_final`), this is its last line (`last_item`), or the returned stock "
                "would pass the part's maximum (`stock_above_maximum`).",
                StockAboveMaximumErrorSerializer,
            ),
        },
    )
    @action(detail=True, methods=["delete"], url_path=r"items/(?P<item_id>\d{1,18})")
    def remove_item(self, request, pk=None, item_id=None):
        services.remove_order_item(int(pk), int(item_id))
        return self._respond(int(pk))

"""Inventory API: thin viewsets that route to :mod:`inventory.services`."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from inventory import services
from inventory.filters import SparePartFilter
from inventory.models import Category, SparePart
from inventory.serializers import (
    CategorySerializer,
    SparePartCreateSerializer,
    SparePartSerializer,
    SparePartUpdateSerializer,
    StockAdjustmentSerializer,
    StockMovementPageSerializer,
    StockMovementSerializer,
)
from maintenance.api.concurrency import VersionedViewMixin
from maintenance.api.schema import (
    InsufficientStockErrorSerializer,
    StockAboveMaximumErrorSerializer,
    error_response,
)

# The errors every operation shares (401, 403, 404, 400 for bodies, the
# Idempotency-Key header, …) are added by maintenance.api.schema; the views declare
# only what their own rules add.
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Number of results to return per page (at most 200)."),
    OpenApiParameter("offset", int, description="The initial index from which to return the results."),
    OpenApiParameter("skip", int, description="Synonym of `offset`, kept for clients of the first version."),
]


@extend_schema_view(
    list=extend_schema(summary="List categories"),
    create=extend_schema(summary="Create a category"),
    retrieve=extend_schema(summary="Get a category"),
    update=extend_schema(summary="Replace a category"),
    partial_update=extend_schema(summary="Update a category"),
    destroy=extend_schema(summary="Delete a category (its parts keep existing, uncategorised)"),
)
class CategoryViewSet(VersionedViewMixin, viewsets.ModelViewSet):
    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    search_fields = ["name"]
    ordering_fields = ["name", "date_created"]
    ordering = ["name"]

    def perform_create(self, serializer):
        serializer.instance = services.create_category(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.update_category(
            serializer.instance, expected_version=self.expected_version(), **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_category(instance)


@extend_schema_view(
    list=extend_schema(summary="List spare parts"),
    retrieve=extend_schema(summary="Get a spare part by SKU"),
    destroy=extend_schema(
        summary="Delete a spare part",
        responses={204: None, 409: error_response(409, "The part appears on service orders (`part_in_use`).")},
    ),
)
class SparePartViewSet(
    VersionedViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    # The category's own dates are not shown: left unread, as the page's rows are parsed one by one.
    queryset = SparePart.objects.select_related("category").defer("category__date_created", "category__date_updated")
    serializer_class = SparePartSerializer
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"
    filterset_class = SparePartFilter
    search_fields = ["name", "sku"]
    ordering_fields = ["name", "sku", "price", "stock", "min_stock", "date_created", "date_updated"]
    ordering = ["sku"]
    required_permissions = {
        "adjust_stock": ["inventory.change_sparepart", "inventory.add_stockmovement"],
        "movements": ["inventory.view_sparepart", "inventory.view_stockmovement"],
    }

    def get_object(self):
        return services.get_part_by_sku(self.kwargs["sku"])

    def browsable_api_example(self, method: str) -> dict | None:
        """The browsable API's raw-data box for a new part (its list serializer would give ``{}``)."""
        if method != "POST" or self.detail:
            return None
        return {"name": "Hex bolt M10x50", "sku": "A-STL-M10-50", "price": "0.45", "stock": 0, "category_id": None}

    @extend_schema(
        summary="Create a spare part",
        request=SparePartCreateSerializer,
        responses={201: SparePartSerializer},
    )
    def create(self, request):
        serializer = SparePartCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["category"] = data.pop("category_id", None)
        part = services.create_spare_part(**data)
        return Response(SparePartSerializer(part).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update a spare part (price, stock, …)",
        request=SparePartUpdateSerializer,
        responses={
            200: SparePartSerializer,
            409: error_response(409, "The stock changed concurrently; nothing was changed, retry."),
        },
    )
    def partial_update(self, request, sku=None):
        part = self.get_object()
        serializer = SparePartUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "stock" in data and not request.user.has_perms(self.required_permissions["adjust_stock"]):
            # A new stock is a ledger movement: the same permissions as adjust-stock.
            raise PermissionDenied("Changing the stock writes the stock ledger: it needs inventory.add_stockmovement.")
        note = data.pop("note", "")
        if "category_id" in data:
            data["category"] = data.pop("category_id")
        part = services.update_spare_part(part, note=note, expected_version=self.expected_version(), **data)
        part = SparePart.objects.select_related("category").get(pk=part.pk)
        return Response(SparePartSerializer(part).data)

    def perform_destroy(self, instance):
        services.delete_spare_part(instance)

    @extend_schema(
        summary="Add to or take from a part's stock",
        request=StockAdjustmentSerializer,
        responses={
            200: SparePartSerializer,
            409: error_response(
                409,
                "Not enough stock for a negative `delta` (`insufficient_stock`), or the stock would pass "
                "its maximum (`stock_above_maximum`).",
                InsufficientStockErrorSerializer,
                StockAboveMaximumErrorSerializer,
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="adjust-stock")
    def adjust_stock(self, request, sku=None):
        part = self.get_object()
        serializer = StockAdjustmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.adjust_stock(part, **serializer.validated_data)
        part = SparePart.objects.select_related("category").get(pk=part.pk)
        return Response(SparePartSerializer(part).data)

    @extend_schema(
        summary="A part's stock ledger, newest first",
        parameters=PAGE_PARAMETERS,
        responses={200: StockMovementPageSerializer},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def movements(self, request, sku=None):
        part = self.get_object()
        queryset = part.movements.select_related("actor").order_by("-date_created", "-id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(StockMovementSerializer(page, many=True).data)

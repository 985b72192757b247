"""API representations of service orders."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from inventory.serializers import MONEY, OneTimeZoneListSerializer, SparePartSerializer, format_timestamp
from media_uploads.serializers import ServiceOrderImageSerializer
from orders.models import OrderStatus, ServiceOrder, ServiceOrderItem


@extend_schema_field(
    {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 255}, {"type": "integer", "format": "int64"}]}
)
class RequestIdField(serializers.CharField):
    """The client's id for an order: a string, or an integer taken as its decimal string."""

    def __init__(self, **kwargs):
        super().__init__(max_length=255, **kwargs)


class OrderLineInputSerializer(serializers.Serializer):
    spare_part_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.MAX_LINE_QUANTITY)


class ClientFieldsSerializer(serializers.Serializer):
    client_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    client_phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    client_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Two parts",
            value={
                "request_id": "unique-request-123",
                "client_name": "Ana Gómez",
                "client_phone": "+57 300 000 0000",
                "items": [{"spare_part_id": 1, "quantity": 2}, {"spare_part_id": 5, "quantity": 1}],
            },
            request_only=True,
        )
    ]
)
class OrderCreateSerializer(ClientFieldsSerializer):
    request_id = RequestIdField(
        help_text="Your id for this order (string or integer). Sending it again replays the first response.",
    )
    items = OrderLineInputSerializer(
        many=True, allow_empty=False, max_length=settings.MAX_ORDER_LINES, help_text="At least one line."
    )


class OrderUpdateSerializer(ClientFieldsSerializer):
    status = serializers.ChoiceField(
        choices=OrderStatus.choices,
        required=False,
        help_text="pending → in_progress → completed; pending or in_progress → cancelled (returns stock).",
    )


class ServiceOrderItemSerializer(serializers.ModelSerializer):
    spare_part_id = serializers.IntegerField(read_only=True)
    spare_part = SparePartSerializer(read_only=True)
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = ServiceOrderItem
        fields = ["id", "spare_part_id", "quantity", "unit_price", "line_total", "spare_part", "date_created"]
        read_only_fields = fields
        list_serializer_class = OneTimeZoneListSerializer

    def to_representation(self, item, time_zone=None):
        # Tuned as SparePartSerializer's is; a test holds it to DRF's generic path.
        tz = time_zone or timezone.get_current_timezone()
        return {
            "id": item.pk,
            "spare_part_id": item.spare_part_id,
            "quantity": item.quantity,
            "unit_price": MONEY.to_representation(item.unit_price),
            "line_total": MONEY.to_representation(item.line_total),
            "spare_part": _PART.to_representation(item.spare_part, time_zone=tz),
            "date_created": format_timestamp(item.date_created, tz),
        }


# The nested representations, through the serializers' own (tuned) to_representation: one
# instance each, whose fields are never built (DRF would build them for every order answered).
_PART = SparePartSerializer()
_ITEM = ServiceOrderItemSerializer()


class ServiceOrderSerializer(serializers.ModelSerializer):
    """A service order with its lines (each with its part) and its images."""

    # Reads the lines and images from the attributes ``orders.selectors`` fills
    # (``Prefetch(..., to_attr=...)``), so a page of orders costs a constant number
    # of queries. ``to_representation`` is tuned like SparePartSerializer's; a test
    # holds it to DRF's generic path. (Comments, not the docstring: that is the schema's.)

    items = ServiceOrderItemSerializer(many=True, read_only=True, source="item_list")
    images = ServiceOrderImageSerializer(many=True, read_only=True, source="image_list")
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    allowed_next_statuses = serializers.ListField(child=serializers.CharField(), read_only=True)
    # Blank when the client gave none: allow_blank makes the schema say so (`format: email` alone refuses "").
    client_email = serializers.EmailField(read_only=True, allow_blank=True)

    class Meta:
        model = ServiceOrder
        fields = [
            "id",
            "request_id",
            "status",
            "allowed_next_statuses",
            "total",
            "client_name",
            "client_phone",
            "client_email",
            "description",
            "created_by",
            "items",
            "images",
            "date_created",
            "date_updated",
        ]
        read_only_fields = fields
        list_serializer_class = OneTimeZoneListSerializer

    def to_representation(self, order, time_zone=None):
        images = order.image_list
        tz = time_zone or timezone.get_current_timezone()
        return {
            "id": order.pk,
            "request_id": order.request_id,
            "status": order.status,
            "allowed_next_statuses": list(order.allowed_next_statuses),
            "total": MONEY.to_representation(order.total),
            "client_name": order.client_name,
            "client_phone": order.client_phone,
            "client_email": order.client_email,
            "description": order.description,
            "created_by": order.created_by.username if order.created_by_id else None,
            "items": [_ITEM.to_representation(item, time_zone=tz) for item in order.item_list],
            "images": ServiceOrderImageSerializer(images, many=True).data if images else [],
            "date_created": format_timestamp(order.date_created, tz),
            "date_updated": format_timestamp(order.date_updated, tz),
        }

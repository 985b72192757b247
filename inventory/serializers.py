"""API representations of the inventory. They translate; the rules live in services."""

import datetime
from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from inventory.models import MAX_STOCK, Category, SparePart, StockMovement

# inventory.validators.sku_error as a pattern, so clients (and the schema fuzzer)
# can tell a valid SKU: four non-empty dash-separated parts, blanks around the
# whole are stripped, and none of '/', whitespace, control and format characters
# inside. Those are listed for the Basic Multilingual Plane, in escapes both
# Python's and JavaScript's regular expressions read; the service also refuses
# the few format characters beyond it. A test holds the pattern to the rule.
_SKU_CHARACTER = (
    r"[^-/\s\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
SKU_PATTERN = rf"^\s*{_SKU_CHARACTER}+(?:-{_SKU_CHARACTER}+){{3}}\s*$"


@extend_schema_field({"type": "string", "pattern": SKU_PATTERN, "maxLength": 64})
class SkuField(serializers.CharField):
    """A SKU as input. The service checks the rule, with its own message; this documents it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "CLASS-MATERIAL-SIZE-LENGTH, e.g. A-STL-M10-50")
        super().__init__(max_length=64, **kwargs)


class CategorySerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=100, help_text="Unique, case-insensitive.")

    class Meta:
        model = Category
        fields = ["id", "name", "description", "date_created", "date_updated"]
        read_only_fields = ["id", "date_created", "date_updated"]
        extra_kwargs = {"description": {"required": False, "allow_blank": True}}


class CategorySummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "description"]
        read_only_fields = fields


# Formatters for the tuned representations: the same DRF field the generic path uses,
# created once instead of once per serializer instance.
MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)


def format_timestamp(value: datetime.datetime | None, tz: datetime.tzinfo | None = None) -> str | None:
    """What DRF's ``DateTimeField`` writes (ISO 8601 in the current time zone, ``Z`` for UTC).

    DRF looks the current time zone up for every value (a context-local read); a
    representation with several timestamps passes ``tz`` once.
    """
    if value is None:
        return None
    text = value.astimezone(tz or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class OneTimeZoneListSerializer(serializers.ListSerializer):
    """A list whose items are written in the current time zone, looked up once for the list.

    DRF's ``DateTimeField`` looks it up for every value (a context-local read): for a
    catalogue page of 50 parts that was a fifth of the serializer's time. The tuned
    ``to_representation`` of the item serializers takes it as ``time_zone``.
    """

    def to_representation(self, data):
        items = data.all() if isinstance(data, models.manager.BaseManager) else data
        time_zone = timezone.get_current_timezone()
        return [self.child.to_representation(item, time_zone=time_zone) for item in items]


class SparePartSerializer(serializers.ModelSerializer):
    """A spare part, with its category embedded (null when it has none)."""

    # The declared fields are the schema's source. ``to_representation`` is tuned: it
    # writes the same dict as DRF's generic path (a test holds the two equal) without
    # building the serializer's fields for each instance or looking each field up, which
    # cost more than the rest of a catalogue page. (Comments, not the docstring: that is the schema's.)

    category = CategorySummarySerializer(read_only=True, allow_null=True)
    category_id = serializers.IntegerField(read_only=True, allow_null=True)
    is_low_stock = serializers.BooleanField(read_only=True, help_text="stock <= min_stock")

    class Meta:
        model = SparePart
        fields = [
            "id",
            "name",
            "sku",
            "price",
            "stock",
            "min_stock",
            "is_low_stock",
            "category_id",
            "category",
            "date_created",
            "date_updated",
        ]
        read_only_fields = fields
        list_serializer_class = OneTimeZoneListSerializer

    def to_representation(self, part, time_zone=None):
        category = part.category if part.category_id is not None else None
        tz = time_zone or timezone.get_current_timezone()
        return {
            "id": part.pk,
            "name": part.name,
            "sku": part.sku,
            "price": MONEY.to_representation(part.price),
            "stock": part.stock,
            "min_stock": part.min_stock,
            "is_low_stock": part.stock <= part.min_stock,
            "category_id": part.category_id,
            "category": None
            if category is None
            else {"id": category.pk, "name": category.name, "description": category.description},
            "date_created": format_timestamp(part.date_created, tz),
            "date_updated": format_timestamp(part.date_updated, tz),
        }


class CategoryIdField(serializers.PrimaryKeyRelatedField):
    default_error_messages = {"does_not_exist": _("Category {pk_value} does not exist.")}

    def __init__(self, **kwargs):
        super().__init__(queryset=Category.objects.all(), allow_null=True, **kwargs)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A bolt",
            value={"name": "Hex bolt M10x50", "sku": "A-STL-M10-50", "price": "0.45", "stock": 500, "category_id": 1},
            request_only=True,
        )
    ]
)
class SparePartCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    sku = SkuField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, default=0)
    min_stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, default=0)
    category_id = CategoryIdField(required=False, help_text="Id of an existing category, or null.")


SKU_READ_ONLY = _(
    "This field is read-only: a part's SKU is fixed once created, as clients use it in URLs "
    "(staff can rename a part in the admin)."
)


@extend_schema_serializer(
    examples=[OpenApiExample("New price and stock", value={"price": "0.50", "stock": 450}, request_only=True)]
)
class SparePartUpdateSerializer(serializers.Serializer):
    """The fields to change. `sku` is not among them: a body that names it is refused (400)."""

    name = serializers.CharField(max_length=200, required=False)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"), required=False)
    stock = serializers.IntegerField(
        min_value=0, max_value=MAX_STOCK, required=False, help_text="New stock; recorded as an adjustment."
    )
    min_stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False)
    category_id = CategoryIdField(required=False)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, help_text="Ledger note.")

    def to_internal_value(self, data):
        # Refused, not ignored as DRF ignores a read-only field: a client renaming a part
        # must learn it did not happen. Reported with the other fields' errors.
        errors = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors = dict(exc.detail)
        if isinstance(data, dict) and "sku" in data:
            errors["sku"] = [serializers.ErrorDetail(str(SKU_READ_ONLY), code="read_only")]
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StockAdjustmentSerializer(serializers.Serializer):
    delta = serializers.IntegerField(
        min_value=-MAX_STOCK, max_value=MAX_STOCK, help_text="Signed change: negative takes stock out."
    )
    reason = serializers.ChoiceField(
        choices=[
            StockMovement.Reason.RECEIPT,
            StockMovement.Reason.ADJUSTMENT,
        ],
        default=StockMovement.Reason.ADJUSTMENT,
    )
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate_delta(self, value):
        if value == 0:
            raise serializers.ValidationError(_("delta must not be zero."))
        return value


class StockMovementSerializer(serializers.ModelSerializer):
    spare_part_id = serializers.IntegerField(read_only=True)
    order_id = serializers.IntegerField(read_only=True, allow_null=True)
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = StockMovement
        fields = ["id", "spare_part_id", "delta", "stock_after", "reason", "order_id", "actor", "note", "date_created"]
        read_only_fields = fields


class StockMovementPageSerializer(serializers.Serializer):
    """A page of the ledger, in the API's pagination envelope."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StockMovementSerializer(many=True)

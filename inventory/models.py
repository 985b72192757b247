from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from inventory.validators import validate_sku
from maintenance.models import TimestampedModel

# The most units of one part (stock, reorder level, one adjustment): a documented
# bound below PostgreSQL's integer maximum, which a check constraint holds stock to.
MAX_STOCK = 2_000_000_000


class Category(TimestampedModel):
    name = models.CharField(max_length=100, help_text="Unique, compared without regard to case.")
    description = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="inventory_category_name_ci_unique",
                violation_error_message="A category with this name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SparePart(TimestampedModel):
    name = models.CharField(max_length=200)
    # unique=True gives the B-tree index that SKU lookups use.
    sku = models.CharField(
        max_length=64, unique=True, validators=[validate_sku], help_text="CLASS-MATERIAL-SIZE-LENGTH, e.g. A-STL-M10-50"
    )
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.IntegerField(default=0, help_text="Units on hand. Changed only through the stock ledger.")
    min_stock = models.IntegerField(
        "reorder level", default=0, help_text="At or below it the part is low on stock and should be reordered."
    )
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="spare_parts")

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="inventory_sparepart_stock_gte_0"),
            models.CheckConstraint(condition=Q(stock__lte=MAX_STOCK), name="inventory_sparepart_stock_lte_max"),
            models.CheckConstraint(condition=Q(price__gte=0), name="inventory_sparepart_price_gte_0"),
            models.CheckConstraint(condition=Q(min_stock__gte=0), name="inventory_sparepart_min_stock_gte_0"),
        ]
        indexes = [
            models.Index(fields=["name"], name="inventory_sparepart_name_idx"),
            # The API's price range filter and ordering (prices change rarely: no cost per order).
            models.Index(fields=["price"], name="inventory_sparepart_price_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def is_low_stock(self) -> bool:
        return self.stock <= self.min_stock


class StockMovement(models.Model):
    """One change of one part's stock. ``stock == sum(delta)`` holds for every part."""

    class Reason(models.TextChoices):
        INITIAL = "initial", "Initial stock"
        RECEIPT = "receipt", "Received"
        RETURNED = "returned", "Returned by a client"
        DAMAGED = "damaged", "Damaged or lost"
        COUNT = "count", "Counted (stocktake)"
        ADJUSTMENT = "adjustment", "Adjustment"
        ORDER = "order", "Used on an order"
        ORDER_CANCELLED = "order_cancelled", "Returned from a cancelled order"
        ORDER_LINE_REMOVED = "order_line_removed", "Returned from a removed order line"
        IMPORT = "import", "Import"

    # Indexed by inventory_movement_part_idx, whose first column it is.
    spare_part = models.ForeignKey(SparePart, on_delete=models.CASCADE, related_name="movements", db_index=False)
    delta = models.IntegerField()
    stock_after = models.IntegerField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    order = models.ForeignKey(
        "orders.ServiceOrder", null=True, blank=True, on_delete=models.SET_NULL, related_name="stock_movements"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True, default="")
    date_created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date_created", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(delta=0), name="inventory_stockmovement_delta_not_0"),
            models.CheckConstraint(condition=Q(stock_after__gte=0), name="inventory_stockmovement_after_gte_0"),
        ]
        indexes = [
            models.Index(fields=["spare_part", "-date_created", "-id"], name="inventory_movement_part_idx"),
            # The ledger's default order (admin list, newest first) on ten million rows.
            models.Index(fields=["-date_created", "-id"], name="inventory_movement_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.spare_part_id} ({self.reason})"

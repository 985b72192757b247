from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from inventory.validators import validate_sku
from maintenance.models import TimestampedModel

# The most units of one part (stock, reorder level, one adjustment): a documented
# bound below PostgreSQL's integer maximum, which a check constraint holds stock to.
MAX_STOCK = 2_000_000_000


class Category(TimestampedModel):
    name = models.CharField(
        max_length=100, help_text=_("Unique, compared without regard to case."), verbose_name=_("name")
    )
    description = models.TextField(blank=True, default="", verbose_name=_("description"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="inventory_category_name_ci_unique",
                violation_error_message=_("A category with this name already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SparePart(TimestampedModel):
    name = models.CharField(max_length=200, verbose_name=_("name"))
    # unique=True gives the B-tree index that SKU lookups use.
    sku = models.CharField(
        max_length=64,
        unique=True,
        validators=[validate_sku],
        help_text=_("CLASS-MATERIAL-SIZE-LENGTH, e.g. A-STL-M10-50"),
        verbose_name=_("sku"),
    )
    price = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("price"))
    stock = models.IntegerField(
        default=0, help_text=_("Units on hand. Changed only through the stock ledger."), verbose_name=_("stock")
    )
    min_stock = models.IntegerField(
        _("reorder level"), default=0, help_text=_("At or below it the part is low on stock and should be reordered.")
    )
    category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="spare_parts",
        verbose_name=_("category"),
    )

    class Meta:
        ordering = ["sku"]
        verbose_name = _("spare part")
        verbose_name_plural = _("spare parts")
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
        INITIAL = "initial", _("Initial stock")
        RECEIPT = "receipt", _("Received")
        RETURNED = "returned", _("Returned by a client")
        DAMAGED = "damaged", _("Damaged or lost")
        COUNT = "count", _("Counted (stocktake)")
        ADJUSTMENT = "adjustment", _("Adjustment")
        ORDER = "order", _("Used on an order")
        ORDER_CANCELLED = "order_cancelled", _("Returned from a cancelled order")
        ORDER_LINE_REMOVED = "order_line_removed", _("Returned from a removed order line")
        IMPORT = "import", pgettext_lazy("stock movement reason", "Import")

    # Indexed by inventory_movement_part_idx, whose first column it is.
    spare_part = models.ForeignKey(
        SparePart, on_delete=models.CASCADE, related_name="movements", db_index=False, verbose_name=_("spare part")
    )
    delta = models.IntegerField(verbose_name=_("delta"))
    stock_after = models.IntegerField(verbose_name=_("stock after"))
    reason = models.CharField(max_length=32, choices=Reason.choices, verbose_name=_("reason"))
    order = models.ForeignKey(
        "orders.ServiceOrder",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stock_movements",
        verbose_name=_("order"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    note = models.CharField(max_length=255, blank=True, default="", verbose_name=_("note"))
    date_created = models.DateTimeField(auto_now_add=True, verbose_name=_("date created"))

    class Meta:
        ordering = ["-date_created", "-id"]
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
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

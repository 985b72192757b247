from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from maintenance.models import TimestampedModel


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


# The lifecycle: from each status, the statuses an order may move to.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    OrderStatus.PENDING: (OrderStatus.IN_PROGRESS, OrderStatus.CANCELLED),
    OrderStatus.IN_PROGRESS: (OrderStatus.COMPLETED, OrderStatus.CANCELLED),
    OrderStatus.COMPLETED: (),
    OrderStatus.CANCELLED: (),
}
FINAL_STATUSES = frozenset(status for status, nexts in ALLOWED_TRANSITIONS.items() if not nexts)


class ServiceOrder(TimestampedModel):
    request_id = models.CharField(
        max_length=255,
        help_text=_("The client's id for this order; one order per request_id and user."),
        verbose_name=_("request id"),
    )
    client_name = models.CharField(max_length=200, blank=True, default="", verbose_name=_("client name"))
    client_phone = models.CharField(max_length=50, blank=True, default="", verbose_name=_("client phone"))
    client_email = models.EmailField(blank=True, default="", verbose_name=_("client email"))
    description = models.TextField(blank=True, default="", verbose_name=_("description"))
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING, verbose_name=_("status")
    )
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"), verbose_name=_("total"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_orders",
        db_index=False,  # the unique (created_by, request_id) constraint's index serves it
        verbose_name=_("created by"),
    )
    # Indexed by orders_created_idx (date_created, id), the lists' default order.
    date_created = models.DateTimeField(auto_now_add=True, verbose_name=_("date created"))

    class Meta:
        ordering = ["-date_created", "-id"]
        verbose_name = _("service order")
        verbose_name_plural = _("service orders")
        constraints = [
            # Per user. Orders whose user was deleted (SET_NULL) keep their request ids, which
            # may repeat between former users: the constraint holds only while a user is set.
            models.UniqueConstraint(
                fields=["created_by", "request_id"],
                condition=Q(created_by__isnull=False),
                name="orders_serviceorder_request_id_unique",
                violation_error_message=_("An order with this request_id already exists."),
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_serviceorder_total_gte_0"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="orders_serviceorder_status_valid"),
        ]
        indexes = [
            models.Index(fields=["-date_created", "-id"], name="orders_created_idx"),
            # ?ordering=-total (ties by id, maintenance.api.filters.OrderingFilter): no top-N sort of every order.
            models.Index(fields=["-total", "-id"], name="orders_total_idx"),
            models.Index(fields=["status", "-date_created"], name="orders_status_created_idx"),
            models.Index(fields=["request_id"], name="orders_request_id_idx"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}" + (f" ({self.client_name})" if self.client_name else "")

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def allowed_next_statuses(self) -> tuple[str, ...]:
        return ALLOWED_TRANSITIONS[self.status]


class ServiceOrderItem(TimestampedModel):
    order = models.ForeignKey(ServiceOrder, on_delete=models.CASCADE, related_name="items", verbose_name=_("order"))
    spare_part = models.ForeignKey(
        "inventory.SparePart", on_delete=models.PROTECT, related_name="order_items", verbose_name=_("spare part")
    )
    quantity = models.IntegerField(verbose_name=_("quantity"))
    unit_price = models.DecimalField(
        max_digits=10, decimal_places=2, help_text=_("The part's price when ordered."), verbose_name=_("unit price")
    )
    # Lines are read through their order, never by date: no index to maintain on every order.
    date_created = models.DateTimeField(auto_now_add=True, verbose_name=_("date created"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("service order item")
        verbose_name_plural = _("service order items")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_item_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orders_item_unit_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x part {self.spare_part_id}"

    @property
    def line_total(self) -> Decimal:
        return self.quantity * self.unit_price

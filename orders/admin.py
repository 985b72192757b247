"""Service orders in the admin.

Every write goes through :mod:`orders.services`, photos included, as the API's
do: a new order is placed with ``place_order``, lines of an open order are added
and removed with ``add_order_item`` and ``remove_order_item``, the status moves
with ``change_status``. A refusal (an
order that would oversell, a move the lifecycle forbids, a file that is not an
image) is shown on the form and nothing is saved.

Django saves the order (``save_model``) before its inlines (``save_related``),
but placing an order needs its lines, so all writing happens in
``save_related``, where the form and every inline formset are known.
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from inventory.models import SparePart
from maintenance.adminkit.mixins import ServiceFormAdminMixin, ServiceRefused, sync_instance
from maintenance.adminkit.pagination import BigTableAdminMixin
from maintenance.api.errors import BusinessError
from maintenance.audit.admin import AuditHistoryAdminMixin
from maintenance.audit.models import Auditor
from media_uploads import services as media
from media_uploads.forms import ImageUploadAdminForm
from media_uploads.models import ServiceOrderImage
from orders import services
from orders.forms import ExistingItemsFormSet, ImagesFormSet, NewItemForm, NewItemsFormSet, ServiceOrderAdminForm
from orders.models import OrderStatus, ServiceOrder, ServiceOrderItem

CLIENT_FIELDS = services.CLIENT_FIELDS
# The most audit rows an order's History shows (200 pages of 50).
HISTORY_ROWS_MAX = 10_000
STATUS_COLORS = {
    OrderStatus.PENDING: "#b7791f",
    OrderStatus.IN_PROGRESS: "#417690",
    OrderStatus.COMPLETED: "#3f7d20",
    OrderStatus.CANCELLED: "#777",
}
# Service fields → the form field that shows their errors.
ERROR_FIELDS = {"file": "new_image", "items": None, "items.quantity": None, "status": "status"}


def status_badge(status: str, label: str):
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;font-size:11px;'
        'font-weight:bold;white-space:nowrap">{}</span>',
        STATUS_COLORS.get(status, "#777"),
        label,
    )


class OrderItemInline(admin.TabularInline):
    """The order's lines. They cannot be edited in place: remove a line and add another."""

    model = ServiceOrderItem
    formset = ExistingItemsFormSet
    fields = ("spare_part", "quantity", "unit_price", "line_total")
    readonly_fields = fields
    extra = 0
    verbose_name = _("item")
    verbose_name_plural = _("items (tick “delete” to remove a line; its parts go back to stock)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("spare_part")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is not None and not obj.is_final and super().has_delete_permission(request, obj)

    @admin.display(description=_("line total"))
    def line_total(self, item: ServiceOrderItem):
        return f"{item.line_total:.2f}" if item.pk else "—"


class FinalOrderItemInline(OrderItemInline):
    """A completed or cancelled order's lines: shown, with nothing to tick."""

    verbose_name_plural = _("items")


class NewItemInline(admin.TabularInline):
    """Lines to put on the order, taken from stock when the order is saved."""

    model = ServiceOrderItem
    form = NewItemForm
    formset = NewItemsFormSet
    fields = ("spare_part", "quantity")
    autocomplete_fields = ("spare_part",)
    can_delete = False
    verbose_name = _("item")
    verbose_name_plural = _("add items")

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def get_extra(self, request, obj=None, **kwargs):
        return 3 if obj is None else 1

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return False


class OrderImageInline(admin.TabularInline):
    """The order's photos: a thumbnail that opens the full image. Upload with “Add a photo” above."""

    model = ServiceOrderImage
    formset = ImagesFormSet
    fields = ("preview", "original_name", "content_type", "dimensions", "size", "uploaded_by", "date_created")
    readonly_fields = fields
    extra = 0
    verbose_name = _("photo")
    verbose_name_plural = _("photos")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("photo"))
    def preview(self, image: ServiceOrderImage):
        if not image.pk:
            return "—"
        # Links are signed now (the database holds keys only).
        return format_html(
            '<a href="{}" target="_blank" rel="noopener" title="{}">'
            '<img src="{}" alt="{}" style="max-width:160px;max-height:120px;border-radius:4px"></a>',
            media.signed_url(image.image),
            gettext("Open the full image"),
            media.signed_url(image.thumbnail or image.image),
            image.original_name or f"image {image.pk}",
        )

    @admin.display(description=_("size (px)"))
    def dimensions(self, image: ServiceOrderImage):
        return f"{image.width} x {image.height}" if image.width else "—"

    @admin.display(description=_("bytes"))
    def size(self, image: ServiceOrderImage):
        return f"{image.size_bytes:,}" if image.size_bytes else "—"


@admin.register(ServiceOrder)
class ServiceOrderAdmin(BigTableAdminMixin, ServiceFormAdminMixin, AuditHistoryAdminMixin, admin.ModelAdmin):
    form = ServiceOrderAdminForm
    change_form_template = "admin/orders/serviceorder/change_form.html"
    list_display = ("__str__", "status_display", "client_name", "total", "item_count", "date_created", "created_by")
    # No date_hierarchy: its year links are a DISTINCT over every order. The date filter
    # (today, past 7 days, this month, this year) and ?date_created__year/month/day= (the
    # dashboard's links) are ranges on the (date_created, id) index.
    list_filter = ("status", "date_created")
    list_select_related = ("created_by",)
    # Request ids are compared as written (the unique constraint does): the btree answers.
    # An exact SKU is looked up first (see get_search_results).
    search_fields = ("client_name", "client_email", "client_phone", "request_id__exact")
    search_help_text = _("Client name, e-mail or phone; exact request id; exact SKU of a part on the order.")
    actions = ("start_orders", "complete_orders", "cancel_orders")
    list_per_page = 50

    def get_queryset(self, request):
        # A subquery per row shown, not a GROUP BY over every order and line: PostgreSQL
        # evaluates it for the page's rows only, and the count leaves it out.
        lines = (
            ServiceOrderItem.objects.filter(order=OuterRef("pk"))
            .order_by()
            .values("order")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return super().get_queryset(request).annotate(item_count=Subquery(lines))

    def get_search_results(self, request, queryset, search_term):
        # An exact SKU: the orders that use that part (its lines by the part's index), not a
        # join of every order to its lines and a DISTINCT.
        term = search_term.strip()
        if term and " " not in term:
            part_id = SparePart.objects.filter(sku=term).values_list("pk", flat=True).first()
            if part_id is not None:
                orders = ServiceOrderItem.objects.filter(spare_part_id=part_id).values("order_id")
                return queryset.filter(pk__in=orders), False
        return super().get_search_results(request, queryset, search_term)

    def get_inlines(self, request, obj):
        if obj is None:
            return [NewItemInline]
        if obj.is_final:
            return [FinalOrderItemInline, OrderImageInline]
        return [OrderItemInline, NewItemInline, OrderImageInline]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # The client's name first, where the cursor starts; the optional request id last.
            return [
                (None, {"fields": (*CLIENT_FIELDS, "request_id")}),
                (_("Photo"), {"fields": ("new_image",)}),
            ]
        return [
            (None, {"fields": ("request_id", "status", "total", "created_by", "date_created", "date_updated")}),
            (_("Client"), {"fields": CLIENT_FIELDS}),
            (_("Photo"), {"fields": ("new_image",)}),
        ]

    def has_change_permission(self, request, obj=None):
        # A completed or cancelled order is a record: shown read-only (Django's view page, no
        # save buttons, no edit hints); deleting it stays possible for those allowed to.
        if obj is not None and obj.is_final:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        readonly = ["request_id", "total", "created_by", "date_created", "date_updated"]
        if obj.is_final:
            readonly += ["status", *CLIENT_FIELDS]
        return readonly

    # --- list columns ---------------------------------------------------------

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, order: ServiceOrder):
        return status_badge(order.status, order.get_status_display())

    @admin.display(description=_("items"))  # not sortable: that would count every order's lines
    def item_count(self, order: ServiceOrder):
        return order.item_count or 0

    # --- saving through the services -------------------------------------------

    def save_model(self, request, obj, form, change):
        """Nothing here: the order is written with its lines in :meth:`save_related`."""

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        new_items = next((fs for fs in formsets if isinstance(fs, NewItemsFormSet)), None)
        try:
            if change:
                order = self._save_changes(request, form, formsets, new_items)
            else:
                order = self._place(request, form, new_items)
            if form.new_image_data is not None:
                # Last, so nothing after it can roll back a row whose objects are stored.
                services.upload_order_image(
                    order.pk,
                    data=form.new_image_data,
                    original_name=form.cleaned_data["new_image"].name,
                    uploaded_by=request.user,
                )
        except BusinessError as error:
            raise ServiceRefused.from_error(error, ERROR_FIELDS)
        order.refresh_from_db()
        sync_instance(form.instance, order)

    def _place(self, request, form, new_items: NewItemsFormSet | None) -> ServiceOrder:
        data = form.cleaned_data
        lines = new_items.lines() if new_items is not None else []
        order = services.place_order(
            request_id=(data.get("request_id") or "").strip() or f"admin-{uuid.uuid4()}",
            items=lines,
            created_by=request.user,
            **{name: data.get(name, "") for name in CLIENT_FIELDS},
        ).order
        if new_items is not None:
            new_items.new_objects = list(order.items.all())
        return order

    def _save_changes(self, request, form, formsets, new_items: NewItemsFormSet | None) -> ServiceOrder:
        order = form.instance
        data = form.cleaned_data
        details = {name: data[name] for name in CLIENT_FIELDS if name in form.changed_data}
        if details:
            services.update_order_details(order.pk, **details)
        new_lines = new_items.lines() if new_items is not None else []
        removed = [
            item_form.instance
            for formset in formsets
            if isinstance(formset, ExistingItemsFormSet)
            for item_form in formset.deleted_forms
        ]
        if new_lines or removed:
            # This save is one transaction: its part locks must come in id order, as an order's do.
            services.lock_for_line_changes(
                order.pk, [line["spare_part_id"] for line in new_lines] + [item.spare_part_id for item in removed]
            )
        # Add before removing: an order keeps at least one line.
        for line in new_lines:
            new_items.new_objects.append(services.add_order_item(order.pk, **line))
        for formset in formsets:
            if isinstance(formset, ExistingItemsFormSet):
                for item_form in formset.deleted_forms:
                    services.remove_order_item(order.pk, item_form.instance.pk)
                    formset.deleted_objects.append(item_form.instance)
            elif isinstance(formset, ImagesFormSet):
                for image_form in formset.deleted_forms:
                    services.delete_order_image(order.pk, image_form.instance.pk)
                    formset.deleted_objects.append(image_form.instance)
        if "status" in form.changed_data and data.get("status"):
            services.change_status(order.pk, data["status"])
        return ServiceOrder.objects.get(pk=order.pk)

    def delete_model(self, request, obj):
        services.delete_order(obj.pk)

    # --- lifecycle actions -------------------------------------------------------

    def _move(self, request, queryset, target: str) -> None:
        moved = 0
        for order_id, status in queryset.order_by("pk").values_list("pk", "status"):
            if status == target:
                self.message_user(
                    request,
                    gettext("Order #%(id)s is already %(status)s.")
                    % {"id": order_id, "status": str(OrderStatus(status).label).lower()},
                    messages.INFO,
                )
                continue
            try:
                services.change_status(order_id, target)
            except BusinessError as error:
                self.message_user(
                    request,
                    gettext("Order #%(id)s: %(error)s") % {"id": order_id, "error": error.message},
                    messages.WARNING,
                )
            else:
                moved += 1
        if moved:
            done = {
                OrderStatus.IN_PROGRESS: ngettext("Started %(count)d order.", "Started %(count)d orders.", moved),
                OrderStatus.COMPLETED: ngettext("Completed %(count)d order.", "Completed %(count)d orders.", moved),
                OrderStatus.CANCELLED: ngettext("Cancelled %(count)d order.", "Cancelled %(count)d orders.", moved),
            }[target]
            self.message_user(request, done % {"count": moved}, messages.SUCCESS)

    @admin.action(description=_("Start work on the selected orders"), permissions=["change"])
    def start_orders(self, request, queryset):
        self._move(request, queryset, OrderStatus.IN_PROGRESS)

    @admin.action(description=_("Complete the selected orders"), permissions=["change"])
    def complete_orders(self, request, queryset):
        self._move(request, queryset, OrderStatus.COMPLETED)

    @admin.action(description=_("Cancel the selected orders (parts go back to stock)"), permissions=["change"])
    def cancel_orders(self, request, queryset):
        self._move(request, queryset, OrderStatus.CANCELLED)

    # --- history: the order's rows, and those of its lines and photos --------------

    def get_history_queryset(self, request, obj):
        types = ContentType.objects.get_for_models(ServiceOrder, ServiceOrderItem, ServiceOrderImage)
        condition = Q(content_type=types[ServiceOrder], object_id=str(obj.pk))
        for model in (ServiceOrderItem, ServiceOrderImage):
            # Creation and deletion rows carry the order id in their changes; has_key names the
            # partial index on changes->'order_id' (audit_changes_order_idx).
            condition |= Q(content_type=types[model], changes__has_key="order_id", changes__order_id__contains=[obj.pk])
        # The rows first, by their indexes (a BitmapOr), then sorted: with ORDER BY … LIMIT in
        # the same query the planner, which cannot estimate the JSON condition, walked the
        # trail's time index through ten million rows (3-5 s).
        ids = Auditor.objects.filter(condition).order_by().values_list("pk", flat=True)[:HISTORY_ROWS_MAX]
        return Auditor.objects.filter(pk__in=list(ids))


# --- photos across orders ---------------------------------------------------
# Photos are usually handled on their order's page; this list is for finding
# them across orders. Uploads are validated by content like the API's, and a
# delete removes the stored objects once the transaction commits. It lives here,
# not in media_uploads, because every change goes through the order's rules.


PHOTO_DETAILS = ("original_name", "content_type", "dimensions", "size", "uploaded_by", "date_created")


@admin.register(ServiceOrderImage)
class ServiceOrderImageAdmin(BigTableAdminMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    form = ImageUploadAdminForm
    list_display = ("preview", "order", *PHOTO_DETAILS)
    list_display_links = ("original_name",)
    list_filter = ("content_type", "date_created")
    list_select_related = ("order", "uploaded_by")
    search_fields = ("original_name", "=order__id", "order__client_name")
    search_help_text = _("File name, exact order number or client name.")
    autocomplete_fields = ("order",)
    # No date_hierarchy (a DISTINCT over every photo; the date filter is a range), and 50
    # rows a page: each row signs two links.
    list_per_page = 50
    readonly_fields = ("large_preview", *PHOTO_DETAILS)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("order", "file")
        return ("order", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("order", *self.readonly_fields)

    def has_change_permission(self, request, obj=None):
        # A stored photo is never edited, only added or deleted.
        return False

    def save_model(self, request, obj, form, change):
        try:
            image = services.upload_order_image(
                form.cleaned_data["order"].pk,
                data=form.image_data,
                original_name=form.cleaned_data["file"].name,
                uploaded_by=request.user,
            )
        except BusinessError as error:
            raise ServiceRefused.from_error(error, {"file": "file"})
        sync_instance(obj, image)

    def delete_model(self, request, obj):
        services.delete_order_image(obj.order_id, obj.pk)

    @admin.display(description=_("photo"))
    def preview(self, image: ServiceOrderImage):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" style="max-width:96px;max-height:72px;'
            'border-radius:3px"></a>',
            media.signed_url(image.image),
            media.signed_url(image.thumbnail or image.image),
        )

    @admin.display(description=_("image"))
    def large_preview(self, image: ServiceOrderImage):
        return format_html(
            '<a href="{}" target="_blank" rel="noopener" title="{}">'
            '<img src="{}" alt="" style="max-width:640px;max-height:480px;border-radius:4px"></a>',
            media.signed_url(image.image),
            gettext("Open the full image"),
            media.signed_url(image.image),
        )

    @admin.display(description=_("size (px)"))
    def dimensions(self, image: ServiceOrderImage):
        return f"{image.width} x {image.height}" if image.width else "—"

    @admin.display(description=_("bytes"), ordering="size_bytes")
    def size(self, image: ServiceOrderImage):
        return f"{image.size_bytes:,}"

"""Inventory in the admin: categories, parts (with CSV import/export) and the stock ledger.

Saves and deletes go through :mod:`inventory.services`, like the API's: a stock
edit made here is an ``adjustment`` movement, an imported stock an ``import``
movement, and a refused change (bad SKU, duplicate, part in use) is shown on
the form with nothing written.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV

from inventory import services
from inventory.forms import CategoryAdminForm, ReceiveStockForm, ReceiveStockLineFormSet, SparePartAdminForm
from inventory.models import Category, SparePart, StockMovement
from inventory.resources import SparePartResource
from maintenance.adminkit.mixins import ReadOnlyAdminMixin, ServiceFormAdminMixin, ServiceRefused, sync_instance
from maintenance.adminkit.pagination import BigTableAdminMixin
from maintenance.api.errors import BusinessError
from maintenance.audit.admin import AuditHistoryAdminMixin

LEDGER_ROWS = 20


class LowStockFilter(admin.SimpleListFilter):
    title = _("stock level")
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [("yes", _("At or below reorder level")), ("no", _("Above reorder level"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(stock__lte=F("min_stock"))
        if self.value() == "no":
            return queryset.filter(stock__gt=F("min_stock"))
        return queryset


@admin.register(Category)
class CategoryAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    form = CategoryAdminForm
    list_display = ("name", "part_count", "description")
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request):
        # Counted for the page's rows (by the category index), not grouped over every part.
        parts = (
            SparePart.objects.filter(category=OuterRef("pk"))
            .order_by()
            .values("category")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return super().get_queryset(request).annotate(part_count=Coalesce(Subquery(parts), 0))

    @admin.display(description=_("parts"), ordering="part_count")
    def part_count(self, category: Category):
        url = reverse("admin:inventory_sparepart_changelist") + f"?category__id__exact={category.pk}"
        return format_html('<a href="{}">{}</a>', url, category.part_count)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                # Only what this form edited: a field left alone keeps what others saved meanwhile.
                edited = {name: data[name] for name in ("name", "description") if name in form.changed_data}
                category = services.update_category(obj, **edited) if edited else obj
            else:
                category = services.create_category(name=data["name"], description=data["description"])
        except BusinessError as error:
            raise ServiceRefused.from_error(error)
        sync_instance(obj, category)

    def delete_model(self, request, obj):
        services.delete_category(obj)


@admin.register(SparePart)
class SparePartAdmin(BigTableAdminMixin, ServiceFormAdminMixin, AuditHistoryAdminMixin, ImportExportModelAdmin):
    form = SparePartAdminForm
    resource_classes = [SparePartResource]
    import_formats = [CSV]
    export_formats = [CSV]
    change_form_template = "admin/inventory/sparepart/change_form.html"
    change_list_template = "admin/inventory/sparepart/change_list.html"
    list_display = ("sku", "name", "category", "price_display", "stock_display", "min_stock", "low_stock_badge")
    list_display_links = ("sku", "name")
    list_filter = (LowStockFilter, "category")
    list_select_related = ("category",)
    search_fields = ("name", "sku")
    search_help_text = _("Name or SKU.")
    autocomplete_fields = ("category",)
    ordering = ("sku",)
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("name", "sku", "category", "price")}),
        (_("Stock"), {"fields": ("stock", "min_stock", "stock_note", "stock_seen")}),
    )

    def autocomplete_label(self, part: SparePart) -> str:
        """How the order form's part picker shows a part (maintenance.adminkit.site)."""
        return gettext("%(sku)s — %(name)s · %(stock)s in stock · %(price)s") % {
            "sku": part.sku,
            "name": part.name,
            "stock": part.stock,
            "price": f"{part.price:,.2f}",
        }

    def autocomplete_data(self, part: SparePart) -> dict:
        """What the order form's live totals need of a picked part."""
        return {"price": f"{part.price:.2f}", "stock": part.stock}

    # --- list columns ---------------------------------------------------------

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, part: SparePart):
        return format_html('<span style="font-variant-numeric: tabular-nums">{}</span>', f"{part.price:,.2f}")

    @admin.display(description=_("stock"), ordering="stock")
    def stock_display(self, part: SparePart):
        return format_html('<strong style="font-variant-numeric: tabular-nums">{}</strong>', part.stock)

    @admin.display(description=_("stock level"), boolean=False)
    def low_stock_badge(self, part: SparePart):
        if part.is_low_stock:
            return format_html(
                '<span class="stock-badge stock-badge--low" style="background:#ba2121;color:#fff;'
                'padding:2px 8px;border-radius:10px;font-size:11px;font-weight:bold">{}</span>',
                gettext("Out of stock") if part.stock == 0 else gettext("Low stock"),
            )
        return format_html('<span style="color:#3f7d20;font-size:11px">{}</span>', gettext("OK"))

    # --- saving through the services -------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                # Only what this form edited: a field left alone keeps what others saved meanwhile.
                fields = {
                    name: data[name]
                    for name in ("name", "sku", "category", "price", "min_stock")
                    if name in form.changed_data
                }
                if form.stock_edited:
                    fields["stock"] = data["stock"]
                note = data.get("stock_note") or "Changed in the admin"
                part = services.update_spare_part(obj, note=note, **fields) if fields else obj
                old_sku = form.initial.get("sku")
                if part.sku != old_sku:
                    messages.warning(
                        request,
                        gettext(
                            "The SKU changed from %(old)s to %(new)s: the part's API address changed with it "
                            "(/api/v1/items/%(new)s); clients that kept the old SKU must use the new one."
                        )
                        % {"old": old_sku, "new": part.sku},
                    )
            else:
                part = services.create_spare_part(
                    name=data["name"],
                    sku=data["sku"],
                    price=data["price"],
                    stock=data["stock"],
                    min_stock=data["min_stock"],
                    category=data.get("category"),
                    note=data.get("stock_note") or "Opening stock (admin)",
                )
        except BusinessError as error:
            raise ServiceRefused.from_error(error)
        sync_instance(obj, part)

    def delete_model(self, request, obj):
        services.delete_spare_part(obj)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A part's ledger goes with it (CASCADE); nobody deletes movements one by one,
        # so the ledger's "no delete" permission must not block deleting the part.
        perms_needed.discard(str(StockMovement._meta.verbose_name))
        return deleted, model_count, perms_needed, protected

    # --- the stock ledger under the form -----------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_receive_stock"] = self.has_receive_permission(request)
        if obj is not None and obj.pk is not None:
            movements = list(
                StockMovement.objects.filter(spare_part=obj).select_related("actor", "order")[: LEDGER_ROWS + 1]
            )
            context["stock_ledger"] = movements[:LEDGER_ROWS]
            context["stock_ledger_more"] = len(movements) > LEDGER_ROWS
            context["stock_ledger_url"] = (
                reverse("admin:inventory_stockmovement_changelist") + f"?spare_part__id__exact={obj.pk}"
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- receiving and correcting stock ------------------------------------------

    RECEIVING_PERMISSIONS = ("inventory.change_sparepart", "inventory.add_stockmovement")

    def get_urls(self):
        receive = path("receive/", self.admin_site.admin_view(self.receive_stock_view), name="inventory_receive_stock")
        return [receive, *super().get_urls()]

    def has_receive_permission(self, request) -> bool:
        return request.user.has_perms(self.RECEIVING_PERMISSIONS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_receive_stock": self.has_receive_permission(request)}
        return super().changelist_view(request, extra_context)

    def receive_stock_view(self, request):
        """A delivery or a correction: several parts, each with a quantity and a reason, in one save."""
        if not self.has_receive_permission(request):
            raise PermissionDenied
        initial = [{"sku": request.GET["sku"]}] if request.GET.get("sku") else []
        if request.method == "POST":
            form, lines = ReceiveStockForm(request.POST), ReceiveStockLineFormSet(request.POST, prefix="lines")
            if form.is_valid() and lines.is_valid() and self._receive(request, form, lines):
                return self._changelist_redirect()
        else:
            form, lines = ReceiveStockForm(), ReceiveStockLineFormSet(prefix="lines", initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Receive or adjust stock"),
            "form": form,
            "lines": lines,
        }
        return TemplateResponse(request, "admin/inventory/sparepart/receive_stock.html", context)

    def _receive(self, request, form, lines) -> bool:
        filled = [line for line in lines if line.has_changed() and line.cleaned_data.get("sku")]
        if not filled:
            lines.forms[0].add_error("sku", gettext("Give at least one part."))
            return False
        try:
            movements = services.receive_stock(
                lines=[services.ReceivedLine(**line.cleaned_data) for line in filled],
                note=form.cleaned_data["note"],
            )
        except BusinessError as error:
            # lines.<n>.<field> names the line: show the message there.
            _lines, index, field = (error.field or "lines.0.sku").split(".")
            filled[int(index)].add_error(field if field in ("sku", "quantity", "reason") else None, error.message)
            return False
        self.message_user(
            request,
            ngettext(
                "Recorded %(count)d stock movement in the ledger.",
                "Recorded %(count)d stock movements in the ledger.",
                len(movements),
            )
            % {"count": len(movements)},
            messages.SUCCESS,
        )
        return True

    # --- import / export ---------------------------------------------------------

    def has_import_permission(self, request):
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_or_change_permission(request)

    def get_import_data_kwargs(self, **kwargs):
        # All or nothing: if any row fails when confirming (the data changed
        # since the preview), no row is written.
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            invalid = [row.number for row in result.invalid_rows] + [number for number, _errors in result.row_errors()]
            self.message_user(
                request,
                gettext(
                    "Nothing was imported: rows %(rows)s failed when confirming. Import the file again to "
                    "see the errors."
                )
                % {"rows": sorted(invalid)},
                messages.ERROR,
            )
            return self._changelist_redirect()
        return super().process_result(result, request)

    def _changelist_redirect(self):
        return HttpResponseRedirect(reverse("admin:inventory_sparepart_changelist"))


@admin.register(StockMovement)
class StockMovementAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The ledger, read-only: movements are written by the services only."""

    list_display = ("date_created", "spare_part", "delta_display", "stock_after", "reason", "order", "actor", "note")
    # No date_hierarchy: its links are a DISTINCT over every movement; the date filter is a range.
    list_filter = ("reason", "date_created")
    list_select_related = ("spare_part", "order", "actor")
    search_fields = ("note",)  # an exact SKU first: see get_search_results
    search_help_text = _("Exact SKU, or part of the note.")

    def get_search_results(self, request, queryset, search_term):
        # An exact SKU: that part's movements, by the part's index (SKUs are compared as
        # written, as their unique constraint does), not a join of every movement to its part.
        term = search_term.strip()
        if term and " " not in term:
            part_id = SparePart.objects.filter(sku=term).values_list("pk", flat=True).first()
            if part_id is not None:
                return queryset.filter(spare_part_id=part_id), False
        return super().get_search_results(request, queryset, search_term)

    def lookup_allowed(self, lookup, value, request=None):
        # ?spare_part__id__exact=… is the link from a part's page.
        return lookup == "spare_part__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("change"), ordering="delta")
    def delta_display(self, movement: StockMovement):
        color = "#3f7d20" if movement.delta > 0 else "#ba2121"
        return format_html('<strong style="color:{}">{}</strong>', color, f"{movement.delta:+d}")

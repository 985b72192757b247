"""The back-office's admin site: the workshop's own sections first, the machinery last.

Django lists apps alphabetically, which put the audit trail, tokens, lockouts and
processed requests above the inventory and the orders. Here the index and the
sidebar list the work first (orders, inventory, photos) and gather the apps that
run the service (users and groups, API tokens, login lockouts, the audit trail,
idempotency records) into one "System" section at the end. Each user still sees
only the models their permissions allow.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

WORK_APPS = ("orders", "inventory", "media_uploads")
SYSTEM_APPS = ("auth", "accounts", "axes", "audit", "idempotency")


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Django's autocomplete, with each result labelled by its ModelAdmin's ``autocomplete_label(obj)``
    and carrying its ``autocomplete_data(obj)`` when it has them (a part shows its stock and price in
    the order form's picker, and gives the price to the form's live totals)."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = label(obj)
        data = getattr(self.model_admin, "autocomplete_data", None)
        if data is not None:
            result.update(data(obj))
        return result


class WorkshopAdminSite(admin.AdminSite):
    site_header = _("Maintenance Service back-office")
    site_title = _("Maintenance Service")
    index_title = _("Workshop dashboard")
    # "View site" opens the API, the service's other face (browsable for a staff session).
    site_url = "/api/v1/"

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        by_label = {app["app_label"]: app for app in apps}
        work = [by_label.pop(label) for label in WORK_APPS if label in by_label]
        system = [by_label.pop(label) for label in SYSTEM_APPS if label in by_label]
        ordered = [*work, *by_label.values()]
        if system:
            ordered.append(
                {
                    "name": gettext("System"),
                    "app_label": system[0]["app_label"],
                    "app_url": reverse("admin:index") + "#system",
                    "has_module_perms": True,
                    "models": sorted(
                        (model for app in system for model in app["models"]), key=lambda model: str(model["name"])
                    ),
                }
            )
        return ordered


class WorkshopAdminConfig(AdminConfig):
    default_site = "maintenance.adminkit.site.WorkshopAdminSite"

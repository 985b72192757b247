"""The audit trail in the admin: a read-only list, and a readable "History" page per object.

:class:`AuditHistoryAdminMixin` replaces the admin's standard history view
(which only knows the admin's own LogEntry rows) with the object's audit rows,
so changes made through the API, the admin, imports and orders all show up:
who, when, and each field's old → new value.
"""

from __future__ import annotations

from collections import defaultdict

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from maintenance.adminkit.mixins import ReadOnlyAdminMixin
from maintenance.adminkit.pagination import BigTableAdminMixin
from maintenance.audit.models import Auditor, changed_fields
from maintenance.audit.signals import DEFAULT_AUDITED_MODELS

EMPTY = "—"
HISTORY_PAGE_SIZE = 50


# --- making audit rows readable ----------------------------------------------


def _field_for(model, attname: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(attname.removesuffix("_id") if attname.endswith("_id") else attname)
    except FieldDoesNotExist:
        try:
            return model._meta.get_field(attname)
        except FieldDoesNotExist:
            return None


def _label(model, attname: str) -> str:
    field = _field_for(model, attname)
    return str(capfirst(field.verbose_name)) if field is not None else attname


def describe_entries(entries: list[Auditor]) -> list[dict]:
    """Each entry with its changes as ``(label, old, new)`` texts, foreign keys shown by name.

    Related objects are fetched with one query per related model, whatever the
    number of entries.
    """
    wanted: dict[type, set] = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class()
        for attname, values in (entry.changes or {}).items():
            field = _field_for(model, attname)
            if field is not None and field.is_relation and field.many_to_one:
                wanted[field.related_model].update(value for value in values if value not in (None, ""))
    names: dict[type, dict] = {}
    for related_model, ids in wanted.items():
        objects = related_model._base_manager.in_bulk([_id for _id in ids if str(_id).isdigit()])
        names[related_model] = {str(pk): str(obj) for pk, obj in objects.items()}

    def show(field, value) -> str:
        if value is None or value == "":
            return EMPTY
        if field is not None and field.is_relation and field.many_to_one:
            name = names.get(field.related_model, {}).get(str(value))
            return f"{name} (#{value})" if name else gettext("#%(id)s (deleted)") % {"id": value}
        if field is not None and getattr(field, "choices", None):
            return str(dict(field.flatchoices).get(value, value))
        return str(value)

    described = []
    for entry in entries:
        model = entry.content_type.model_class()
        changes = []
        for attname, values in (entry.changes or {}).items():
            old, new = [*values, None, None][:2] if isinstance(values, list | tuple) else (None, values)
            field = _field_for(model, attname)
            changes.append({"label": _label(model, attname), "old": show(field, old), "new": show(field, new)})
        described.append(
            {
                "entry": entry,
                "model_name": capfirst(model._meta.verbose_name) if model else entry.content_type.model,
                "changes": changes,
            }
        )
    return described


def admin_url_for(entry: Auditor) -> str | None:
    ct = entry.content_type
    try:
        return reverse(f"admin:{ct.app_label}_{ct.model}_change", args=[entry.object_id])
    except NoReverseMatch:
        return None


# --- the History page on parts and orders ---------------------------------------


class AuditHistoryAdminMixin:
    """Shows the object's audit rows as a timeline on the admin's "History" page."""

    object_history_template = "admin/audit/object_history.html"

    def get_history_queryset(self, request, obj) -> QuerySet[Auditor]:
        """The audit rows shown for ``obj``; subclasses add rows of dependent objects."""
        return Auditor.objects.filter(content_type=ContentType.objects.get_for_model(self.model), object_id=str(obj.pk))

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = self.get_history_queryset(request, obj).select_related("actor", "content_type")
        paginator = self.get_paginator(request, entries, HISTORY_PAGE_SIZE)
        page_obj = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("History: %(object)s") % {"object": obj},
            "subtitle": None,
            "timeline": describe_entries(list(page_obj)),
            "page_obj": page_obj,
            "page_range": paginator.get_elided_page_range(page_obj.number),
            "page_var": PAGE_VAR,
            "pagination_required": paginator.num_pages > 1,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "object": obj,
            "opts": self.opts,
            "preserved_filters": self.get_preserved_filters(request),
            "audit_changelist_url": _audit_changelist_url(self.model, obj),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)


def _audit_changelist_url(model, obj) -> str:
    ct = ContentType.objects.get_for_model(model)
    return reverse("admin:audit_auditor_changelist") + f"?content_type__id__exact={ct.pk}&object_id={obj.pk}"


# --- the audit trail itself ------------------------------------------------------


class AuditedModelFilter(admin.SimpleListFilter):
    """Only the audited models, not every content type in the project."""

    title = _("model")
    parameter_name = "content_type__id__exact"

    @staticmethod
    def audited_content_types() -> dict:
        labels = getattr(settings, "AUDITED_MODELS", DEFAULT_AUDITED_MODELS)
        models = [apps.get_model(label) for label in labels]
        content_types = ContentType.objects.get_for_models(*models)
        return {model: content_types[model] for model in models}

    @classmethod
    def content_type_ids(cls) -> list[int]:
        return [content_type.pk for content_type in cls.audited_content_types().values()]

    def lookups(self, request, model_admin):
        return [
            (str(content_type.pk), capfirst(model._meta.verbose_name))
            for model, content_type in self.audited_content_types().items()
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(content_type_id=self.value())
        return queryset


@admin.register(Auditor)
class AuditorAdmin(BigTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("timestamp", "action", "model_name", "object_link", "actor", "request_id", "changes_summary")
    # The audit table grows without bound: no full COUNT(*) (BigTableAdminMixin), and no
    # date_hierarchy (a DISTINCT over every row); the timestamp filter is a range.
    list_filter = ("action", AuditedModelFilter, "actor", "timestamp")
    list_select_related = ("content_type", "actor")
    # Request ids as written: the btree answers (UPPER(request_id) = UPPER(…) cannot use it).
    search_fields = ("object_repr", "request_id__exact")
    search_help_text = _("Object name, exact request id or exact object id.")

    fields = (
        "timestamp",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "changes_table",
        "actor",
        "request_id",
        "client_request_id",
        "remote_addr",
    )
    readonly_fields = ("changes_table",)

    def lookup_allowed(self, lookup, value, request=None):
        # ?object_id=… is the link from an object's History page.
        return lookup == "object_id" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("model"), ordering="content_type__model")
    def model_name(self, entry: Auditor):
        model = entry.content_type.model_class()
        return capfirst(model._meta.verbose_name) if model else entry.content_type.model

    @admin.display(description=_("object"), ordering="object_repr")
    def object_link(self, entry: Auditor):
        url = admin_url_for(entry) if entry.action != Auditor.Action.DELETE else None
        label = entry.object_repr or f"#{entry.object_id}"
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description=_("changes"))
    def changes_summary(self, entry: Auditor):
        """Each field by its label, on its own line: old → new (or the value created or deleted)."""
        model = entry.content_type.model_class()
        changes = entry.changes or {}
        lines = []
        for name, values in list(changes.items())[:6]:
            old, new = values if isinstance(values, list) and len(values) == 2 else (None, values)
            if entry.action == Auditor.Action.UPDATE:
                lines.append((_label(model, name), f"{_short(old)} → {_short(new)}"))
            else:
                lines.append((_label(model, name), _short(new if entry.action == Auditor.Action.CREATE else old)))
        if len(changes) > 6:
            lines.append(("…", gettext("%(count)s more") % {"count": len(changes) - 6}))
        if not lines:
            return EMPTY
        return format_html_join(mark_safe("<br>"), "<strong>{}</strong>: {}", lines)

    def get_search_results(self, request, queryset, search_term):
        """Also find an object by its id, and the changes of a field, by its label or its name
        ("price", "reorder level")."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit():
            # An object id with its model: audit_object_idx leads with the content type.
            content_types = AuditedModelFilter.content_type_ids()
            found |= queryset.filter(content_type_id__in=content_types, object_id=term)
        queryset = found
        wanted = term.lower()
        if not wanted:
            return queryset, may_have_duplicates
        names = set()
        for label in getattr(settings, "AUDITED_MODELS", DEFAULT_AUDITED_MODELS):
            for field in apps.get_model(label)._meta.concrete_fields:
                if wanted in (field.name.lower(), field.attname.lower(), str(field.verbose_name).lower()):
                    names.add(field.attname)
        if names:
            # audit_changed_fields_idx answers it (an overlap of the changed fields' names).
            by_field = self.get_queryset(request).alias(fields=changed_fields()).filter(fields__overlap=sorted(names))
            queryset = queryset | by_field
        return queryset, may_have_duplicates

    @admin.display(description=_("changes"))
    def changes_table(self, entry: Auditor):
        (described,) = describe_entries([entry])
        if not described["changes"]:
            return EMPTY
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((change["label"], change["old"], change["new"]) for change in described["changes"]),
        )
        return format_html(
            '<table class="audit-changes"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            gettext("Field"),
            gettext("Old"),
            gettext("New"),
            rows,
        )


def _short(value, limit: int = 40) -> str:
    text = EMPTY if value is None or value == "" else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["AuditHistoryAdminMixin", "AuditorAdmin", "describe_entries"]

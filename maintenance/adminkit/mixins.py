"""Admin plumbing shared by the apps: saving through the service functions.

The admin writes through the same service functions as the API, so every rule
(SKU format, stock never below zero, the order lifecycle) is enforced once.
Services raise :class:`~maintenance.api.errors.BusinessError` from inside
``save_model``/``save_related``, which Django calls after the form validated,
when it can no longer show errors. :class:`ServiceFormAdminMixin` closes that
gap: the refused save's transaction is rolled back and the same POST is
processed again with the service's message added to the form, so staff see a
form error and nothing is written.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from maintenance.api.errors import BusinessError


class ServiceRefused(Exception):
    """Raised from a save hook to undo the admin's save and show ``errors`` on the form."""

    def __init__(self, errors: list[tuple[str | None, str]]):
        super().__init__("; ".join(message for _field, message in errors))
        self.errors = errors

    @classmethod
    def from_error(cls, error: BusinessError, field_map: dict[str, str] | None = None) -> ServiceRefused:
        field = error.field
        if field_map and field in field_map:
            field = field_map[field]
        return cls([(field, error.message)])


class ServiceFormAdminMixin:
    """Turns :class:`ServiceRefused` raised while saving into form errors, with nothing saved."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            # ModelAdmin.changeform_view runs the save in a transaction: the
            # exception rolls back everything the refused save wrote.
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            request._service_form_errors = refused.errors
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        errors = getattr(request, "_service_form_errors", None)
        if not errors:
            return form_class

        class RefusedForm(form_class):
            def clean(self):
                cleaned_data = super().clean()
                for field, message in errors:
                    self.add_error(field if field in self.fields else NON_FIELD_ERRORS, message)
                return cleaned_data

        RefusedForm.__name__ = form_class.__name__
        return RefusedForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except BusinessError as error:
            # Rolled back with the delete view's transaction; the object is still there.
            self.message_user(request, error.message, messages.ERROR)
            opts = self.model._meta
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            return HttpResponseRedirect(url)

    def delete_queryset(self, request, queryset):
        """Delete one object at a time through :meth:`delete_model`, reporting refusals per object."""
        for obj in queryset:
            try:
                self.delete_model(request, obj)
            except BusinessError as error:
                self.message_user(request, error.message, messages.ERROR)


class StaleEditFormMixin:
    """An edit form opened earlier never undoes someone else's save.

    Every field of an existing object also posts the value the form showed (Django's
    ``show_hidden_initial``), so ``changed_data`` is what this user edited, not what differs
    from the database now. The admin passes the services only those fields, so a field left
    alone keeps whatever another user saved meanwhile; a field edited here that someone else
    changed meanwhile is refused, naming its current value (and the form then shows that
    value as the new starting point, so saving again is a decision, not an accident).
    Fields in ``stale_edit_exclude`` have rules of their own (a part's stock).
    """

    stale_edit_exclude: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            for name, field in self.fields.items():
                if name not in self.stale_edit_exclude and not field.widget.is_hidden:
                    field.show_hidden_initial = True

    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk is None or not self.is_bound:
            return cleaned_data
        refreshed = None
        for name in self.changed_data:
            field = self.fields[name]
            if not field.show_hidden_initial or self.add_initial_prefix(name) not in self.data:
                continue  # a post that does not say what it was opened with is taken as it is
            seen = field.hidden_widget().value_from_datadict(self.data, self.files, self.add_initial_prefix(name))
            current = self.initial.get(name)  # the object as read when this POST arrived
            if not field.has_changed(current, seen):
                continue
            shown = self._display(name, current)
            self.add_error(
                name,
                _(
                    "Someone else changed this while you were editing: it is now %(current)s. "
                    "Check it and save again to keep your value."
                )
                % {"current": shown},
            )
            refreshed = refreshed or self.data.copy()
            refreshed[self.add_initial_prefix(name)] = field.prepare_value(current) if current is not None else ""
        if refreshed is not None:
            self.data = refreshed
        return cleaned_data

    def _display(self, name: str, value) -> str:
        field = self.fields[name]
        if value in (None, ""):
            return _("empty")
        if hasattr(field, "queryset"):  # a choice of objects: show the object, not its id
            chosen = field.queryset.filter(pk=value).first()
            return f"“{chosen}”" if chosen is not None else "deleted"
        if getattr(field, "choices", None):
            return f"“{dict(field.choices).get(value, value)}”"
        return f"“{value}”"


def sync_instance(target, source) -> None:
    """Copy the saved state of ``source`` onto ``target`` (the admin's form instance)."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class ReadOnlyAdminMixin:
    """A record nobody edits by hand (ledger, audit trail, idempotency keys): view only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

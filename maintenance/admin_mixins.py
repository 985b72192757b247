"""Admin plumbing shared by the apps: saving through the service functions.

The admin writes through the same service functions as the API, so every rule
(SKU format, stock never below zero, the order lifecycle) is enforced once.
Services raise :class:`~maintenance.errors.BusinessError` from inside
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

from maintenance.errors import BusinessError


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

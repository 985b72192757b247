"""Signal receivers that audit ordinary saves and deletes of the business models."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db.models.signals import post_delete, post_save, pre_save

from maintenance.audit import services
from maintenance.audit.models import Auditor

DEFAULT_AUDITED_MODELS = [
    "inventory.Category",
    "inventory.SparePart",
    "orders.ServiceOrder",
    "orders.ServiceOrderItem",
    "media_uploads.ServiceOrderImage",
]


def _capture_old_values(sender, instance, raw=False, **kwargs):
    if raw or instance._state.adding or instance.pk is None:
        instance._audit_old = {}
        return
    fields = [field.attname for field in services.audited_fields(sender)]
    instance._audit_old = sender._base_manager.filter(pk=instance.pk).values(*fields).first() or {}
    instance._audit_old = {name: services.to_json(value) for name, value in instance._audit_old.items()}


def _record_save(sender, instance, created, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    new = services.snapshot(instance)
    if update_fields:
        names = {sender._meta.get_field(name).attname for name in update_fields}
        new = {name: value for name, value in new.items() if name in names}
    if created:
        services.record(instance, Auditor.Action.CREATE, services.diff({}, new))
        return
    changes = services.diff(getattr(instance, "_audit_old", {}), new)
    if changes:
        services.record(instance, Auditor.Action.UPDATE, changes)


def _record_delete(sender, instance, **kwargs):
    last = services.snapshot(instance)
    services.record(instance, Auditor.Action.DELETE, {name: [value, None] for name, value in last.items()})


def connect_audited_models() -> None:
    for label in getattr(settings, "AUDITED_MODELS", DEFAULT_AUDITED_MODELS):
        model = apps.get_model(label)
        uid = f"audit:{label}"
        pre_save.connect(_capture_old_values, sender=model, dispatch_uid=uid)
        post_save.connect(_record_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_record_delete, sender=model, dispatch_uid=uid)

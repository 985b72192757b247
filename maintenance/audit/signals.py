"""The one audit mechanism: receivers here decide every audit row.

* A single-row ORM save or delete of an audited model reaches them through Django's
  ``pre_save`` / ``post_save`` / ``post_delete``; the receiver writes its row.
* A write that bypasses model signals (the stock hot path in ``inventory.stock_sql``,
  a ``bulk_create``, an ``UPDATE`` of many rows, a foreign key's ``SET_NULL``) sends
  :data:`rows_created` or :data:`rows_updated` through :func:`audit_rows`; the receivers
  answer with the unsaved rows and the sender writes them with its own rows, in the
  same statement or transaction (:func:`write_audit_rows` when it has no statement
  of its own).

So which changes are audited, and how, is decided in this module alone.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import Signal

from maintenance.audit import services
from maintenance.audit.models import Auditor

DEFAULT_AUDITED_MODELS = [
    "inventory.Category",
    "inventory.SparePart",
    "orders.ServiceOrder",
    "orders.ServiceOrderItem",
    "media_uploads.ServiceOrderImage",
]

#: Sent for new rows written without ``Model.save()``: ``sender`` is the model, ``instances`` the
#: new objects (with their ids).
rows_created = Signal()
#: Sent for rows changed without ``Model.save()``: ``sender`` is the model, ``changes`` a list of
#: ``(instance, {attname: [old, new]})``.
rows_updated = Signal()


def audit_rows(signal: Signal, sender, **kwargs) -> list[Auditor]:
    """Send ``signal`` and gather the unsaved audit rows its receivers answer, for the sender to write."""
    rows: list[Auditor] = []
    for _receiver, answer in signal.send(sender=sender, **kwargs):
        rows.extend(answer or ())
    return rows


def write_audit_rows(signal: Signal, sender, **kwargs) -> list[Auditor]:
    """:func:`audit_rows`, written with one INSERT: for a bulk path that has no statement of its own."""
    return Auditor.objects.bulk_create(audit_rows(signal, sender, **kwargs))


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


def _created_rows(sender, instances, **kwargs) -> list[Auditor]:
    return [
        services.build_entry(instance, Auditor.Action.CREATE, services.diff({}, services.snapshot(instance)))
        for instance in instances
    ]


def _updated_rows(sender, changes, **kwargs) -> list[Auditor]:
    return [services.build_entry(instance, Auditor.Action.UPDATE, diff) for instance, diff in changes if diff]


def connect_audited_models() -> None:
    for label in getattr(settings, "AUDITED_MODELS", DEFAULT_AUDITED_MODELS):
        model = apps.get_model(label)
        uid = f"audit:{label}"
        pre_save.connect(_capture_old_values, sender=model, dispatch_uid=uid)
        post_save.connect(_record_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_record_delete, sender=model, dispatch_uid=uid)
        rows_created.connect(_created_rows, sender=model, dispatch_uid=uid)
        rows_updated.connect(_updated_rows, sender=model, dispatch_uid=uid)

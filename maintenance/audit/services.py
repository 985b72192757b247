"""What an audit row says: the audited values of an object, their difference, the row itself.

Only the receivers in :mod:`maintenance.audit.signals` call these; they decide every audit row.
"""

from __future__ import annotations

import datetime
import decimal
import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.fields.files import FieldFile

from maintenance.audit import context
from maintenance.audit.models import Auditor

# Never written to the audit trail, whatever the model.
SECRET_FIELD_MARKERS = ("password", "token", "secret", "key", "digest")
SKIPPED_FIELDS = {"date_created", "date_updated"}


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_FIELD_MARKERS)


def audited_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        field
        for field in model._meta.concrete_fields
        if field.name not in SKIPPED_FIELDS and not _is_secret(field.name) and not field.primary_key
    ]


def to_json(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, FieldFile):
        return value.name or None
    return str(value)


def snapshot(instance: models.Model) -> dict:
    """The audited values of ``instance`` as JSON-ready data, keyed by attribute name."""
    return {field.attname: to_json(getattr(instance, field.attname)) for field in audited_fields(type(instance))}


def diff(old: dict, new: dict) -> dict:
    return {name: [old.get(name), value] for name, value in new.items() if old.get(name) != value}


def build_entry(
    instance: models.Model, action: str, changes: dict, *, content_type: ContentType | None = None
) -> Auditor:
    return Auditor(
        content_type=content_type or ContentType.objects.get_for_model(type(instance)),
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        action=action,
        changes=changes,
        actor=context.current_actor(),
        request_id=context.current_request_id_value(),
        client_request_id=context.current_client_request_id_value(),
        remote_addr=context.current_remote_addr(),
    )


def record(instance: models.Model, action: str, changes: dict) -> Auditor:
    entry = build_entry(instance, action, changes)
    entry.save()
    return entry

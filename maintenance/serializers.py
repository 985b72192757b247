"""Serializer parts shared by the apps."""

from __future__ import annotations

import copy
import datetime
import decimal

from rest_framework import serializers

# Argument values that need no copy: nothing can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None), decimal.Decimal, datetime.date, datetime.datetime, datetime.time)


def clone_field(field: serializers.Field) -> serializers.Field:
    """A new, unbound copy of a declared ``field``, for one serializer instance.

    DRF gives every serializer instance its own fields by deep-copying the declared
    ones: each is re-created from its arguments (``Field.__deepcopy__``), which runs
    its ``__init__`` again — error messages gathered along the class hierarchy,
    validators built — after deep-copying the arguments one by one. A declared field
    is never bound, so a plain field is copied attribute by attribute: the copy gets
    its own binding (name, parent, source) and shares the declared field's validators
    and error messages (DRF shares validators passed as an argument the same way;
    nothing in DRF changes either after ``__init__``). A nested serializer (a
    ``many=True`` list and its child) holds fields of its own and is re-created as DRF
    does, with its arguments cloned the same way.
    """
    if not isinstance(field, serializers.BaseSerializer):
        clone = object.__new__(type(field))
        clone.__dict__.update(field.__dict__)
        return clone
    args = [_clone_argument(value) for value in field._args]
    kwargs = {
        key: value if key in ("validators", "regex") else _clone_argument(value) for key, value in field._kwargs.items()
    }
    return field.__class__(*args, **kwargs)


def _clone_argument(value):
    if type(value) in _IMMUTABLE:
        return value
    if isinstance(value, serializers.Field):
        return clone_field(value)
    return copy.deepcopy(value)


class ClonedFieldsMixin:
    """For input serializers built on every request: their fields from :func:`clone_field`.

    Validating an order's body spent more than half its time deep-copying the declared fields.
    """

    def get_fields(self):
        return {name: clone_field(field) for name, field in self._declared_fields.items()}

"""Serializer parts shared by the apps."""

from __future__ import annotations

import copy

from rest_framework import serializers


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
    ``many=True`` list and its child) holds fields of its own and is deep-copied, as
    DRF does.
    """
    if not isinstance(field, serializers.BaseSerializer):
        clone = object.__new__(type(field))
        clone.__dict__.update(field.__dict__)
        return clone
    return copy.deepcopy(field)


class ClonedFieldsMixin:
    """For input serializers built on every request: their fields from :func:`clone_field`.

    Validating an order's body spent more than half its time deep-copying the declared fields.
    """

    def get_fields(self):
        return {name: clone_field(field) for name, field in self._declared_fields.items()}

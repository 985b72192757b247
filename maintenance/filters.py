"""Query-parameter filters whose bad input is a 400 with a field map, never a 500.

Both were found by fuzzing the API from its schema (``tests/test_schema_fuzz.py``).
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from rest_framework import filters
from rest_framework.exceptions import ValidationError


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC.

    Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59: an
    offset like ``-21:58`` reached the query and failed there (a 500). In UTC
    the offset is gone; a value that has no UTC equivalent in Python's range
    (``0001-01-01T00:00+05:00``) is invalid input.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class SearchFilter(filters.SearchFilter):
    """DRF's search, with its validation error keyed by the parameter.

    DRF validates ``?search=`` with a bare ``CharField``, so a NUL character
    came back as a JSON list (``["Null characters are not allowed."]``), the
    one error body that was neither ``{detail, code}`` nor a field map.
    """

    def get_search_terms(self, request):
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail})

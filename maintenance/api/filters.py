"""Query-parameter filters: bad input is a 400 with a field map, never a 500
(both fixes were found by fuzzing the API from its schema,
``tests/test_schema_fuzz.py``), and no filter work for a request that names none.
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
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


MAX_SEARCH_TERMS = 5
MAX_SEARCH_TERM_LENGTH = 100


@extend_schema_field({"type": "integer", "format": "int64"})
class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number (the generic number field let ``?category=3.7`` mean 3), documented as an integer."""

    def __init__(self, **kwargs):
        super().__init__(decimal_places=0, max_digits=19, **kwargs)


# How the API writes prices: at most 8 digits before the point and 2 after.
PRICE_PATTERN = r"^-?\d{0,8}(?:\.\d{0,2})?$"


@extend_schema_field({"type": "string", "format": "decimal", "pattern": PRICE_PATTERN})
class PriceFilter(django_filters.NumberFilter):
    """A price bound, written as prices are: a decimal string, so that no float rounding reaches it.

    Any other number is a 400 naming the parameter (1e-16384 or -1e131072 passed the
    generic number field and overflowed PostgreSQL's numeric: a 500).
    """

    def __init__(self, **kwargs):
        super().__init__(max_digits=10, decimal_places=2, **kwargs)


class SearchFilter(filters.SearchFilter):
    """DRF's search, with its validation error keyed by the parameter, and bounded: terms
    deduplicated (case-insensitively, as they match), at most ``MAX_SEARCH_TERMS`` of them,
    each at most ``MAX_SEARCH_TERM_LENGTH`` characters (400 naming ``search`` beyond).

    DRF validates ``?search=`` with a bare ``CharField``, so a NUL character
    came back as a JSON list (``["Null characters are not allowed."]``), the
    one error body that was neither ``{detail, code}`` nor a field map.
    """

    def get_search_terms(self, request):
        try:
            terms = super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail})
        # Bounded work per request: each term is an ILIKE over every searched column, so
        # `?search=c c c …` a thousand times held a worker until the statement timeout.
        terms = list(dict.fromkeys(term.lower() for term in terms))
        if len(terms) > MAX_SEARCH_TERMS:
            raise ValidationError(
                {
                    self.search_param: [
                        gettext("At most %(count)s different search terms.") % {"count": MAX_SEARCH_TERMS}
                    ]
                }
            )
        if any(len(term) > MAX_SEARCH_TERM_LENGTH for term in terms):
            raise ValidationError(
                {
                    self.search_param: [
                        gettext("A search term may have at most %(count)s characters.")
                        % {"count": MAX_SEARCH_TERM_LENGTH}
                    ]
                }
            )
        return terms


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request names none of the filters.

    Without filter parameters every filter is empty and the filter set returns
    the queryset unchanged, but only after building a filter set and validating
    a form: on the catalogue page that was a tenth of the request. A parameter
    counts as naming a filter when it is the filter's name or starts with it
    and ``_`` (multi-value widgets such as ranges use suffixed names).
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not _names_a_filter(request.query_params, filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)


def _names_a_filter(params, filter_names) -> bool:
    return any(param == name or param.startswith(f"{name}_") for param in params for name in filter_names)


class OrderingFilter(filters.OrderingFilter):
    """DRF's ``?ordering=``, with the primary key as the last sort key when the others can tie.

    Sorted by a column with repeated values (``?ordering=total``), rows that tie
    come back in whatever order the plan gives, which may differ from one page's
    query to the next: paging with ``offset`` then repeats some rows and skips
    others. The key decides ties, in the direction of the last key given (so
    ``-date_created`` gets ``-pk``, as the default orderings have it). An ordering
    that already holds a unique column (``sku``) is left as it is, and its index
    still serves it.
    """

    def get_schema_operation_parameters(self, view):
        """``ordering`` with the keys this view sorts by, each ascending or descending (``-``)."""
        keys = [field if isinstance(field, str) else field[0] for field in getattr(view, "ordering_fields", ())]
        default = ",".join(getattr(view, "ordering", ()) or ())
        values = [prefix + key for key in keys for prefix in ("", "-")]
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Sort key; `-` sorts descending. Default `{default}`; ties go by `id`.",
                "schema": {
                    "type": "string",
                    "enum": values,
                    # Names for generated enums (price, price_desc), not VALUE_1…
                    "x-enum-varnames": [
                        value.removeprefix("-") + ("_desc" if value[0] == "-" else "") for value in values
                    ],
                },
            }
        ]

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or any(_unique_column(queryset.model, key) for key in ordering):
            return ordering
        last = ordering[-1]
        return [*ordering, "-pk" if isinstance(last, str) and last.startswith("-") else "pk"]


def _unique_column(model, key) -> bool:
    """Whether the sort key ``key`` names a column no two rows share."""
    if not isinstance(key, str):
        return False
    name = key.removeprefix("-")
    if name in ("pk", model._meta.pk.name):
        return True
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return bool(getattr(field, "unique", False) and not getattr(field, "null", True))

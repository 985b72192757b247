"""Limit/offset pagination with the DRF envelope, a maximum page size, and the
seed's ``skip`` accepted as a synonym of ``offset``."""

from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import NotFound

from maintenance.api.errors import InvalidInput


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    default_limit = settings.REST_FRAMEWORK["PAGE_SIZE"]
    max_limit = settings.API_PAGE_SIZE_MAX

    def get_offset(self, request):
        if self.offset_query_param not in request.query_params and "skip" in request.query_params:
            try:
                return pagination._positive_int(request.query_params["skip"])
            except (KeyError, ValueError):
                return 0
        return super().get_offset(request)

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        params.append(
            {
                "name": "skip",
                "required": False,
                "in": "query",
                "description": "Synonym of `offset`, kept for clients of the first version.",
                "schema": {"type": "integer"},
            }
        )
        return params


class KeysetPagination(pagination.CursorPagination):
    """Pages of a very large, append-only list by position ("keyset"), without a count.

    For the audit trail: tens of millions of rows, where ``COUNT(*)`` and ``OFFSET``
    cost a scan of everything before the page (0.5 s for a first page, 3 s deep in
    the list on the issue-24 data set). The next and previous links carry an opaque
    ``cursor``; each page is an index range, as fast at the end as at the start.
    ``limit`` sets the page size, as it does for the other lists.
    """

    page_size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    page_size_query_param = "limit"
    max_page_size = settings.API_PAGE_SIZE_MAX

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with a 404; it is the request that is wrong.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise InvalidInput(
                "cursor is not one this API gave: follow the next and previous links as they are.",
                field=self.cursor_query_param,
                code="invalid_cursor",
            ) from exc

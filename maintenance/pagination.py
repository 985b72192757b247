"""Limit/offset pagination with the DRF envelope, a maximum page size, and the
seed's ``skip`` accepted as a synonym of ``offset``."""

from django.conf import settings
from rest_framework import pagination


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

    def rows_key(self, request) -> tuple:
        """The request's query parameters that choose the rows and their order (all but the
        page's own and the format), in a canonical order: the same key, the same SQL."""
        paging = {self.limit_query_param, self.offset_query_param, "skip", "format"}
        return tuple(
            sorted((name, tuple(values)) for name, values in request.query_params.lists() if name not in paging)
        )

    def paginate_counted(self, request, fetch_page):
        """:meth:`paginate_queryset` for a read that counts and fetches in one query.

        ``fetch_page(limit, offset)`` returns the total count and the page.
        """
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count, page = fetch_page(self.limit, self.offset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        return page

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

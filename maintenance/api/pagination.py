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

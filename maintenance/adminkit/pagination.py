"""Admin changelists on tables of millions of rows (issue 24).

Django's changelist counts every row that matches (``COUNT(*)``) to number its
pages, and ``OFFSET`` walks every row before the page asked for. On a table of
ten million rows both take seconds. :class:`EstimatedCountPaginator` counts
exactly up to :data:`EXACT_COUNT_LIMIT` rows (an index scan that stops there)
and above it takes PostgreSQL's own estimate: ``pg_class.reltuples`` for the
whole table, the planner's row estimate for a filtered list. The page count is
then approximate, as in any large list, and the pages offered stop at
:data:`MAX_PAGES` (the rows beyond are reached by filtering, searching or
sorting the other way, never by paging ten thousand pages deep).
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

EXACT_COUNT_LIMIT = 10_000
MAX_PAGES = 200


def estimated_rows(queryset) -> int:
    """PostgreSQL's estimate of the rows of ``queryset``, without running it."""
    query = queryset.order_by()
    if not query.query.where:
        with connections[queryset.db].cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
            )
            row = cursor.fetchone()
        if row and row[0] >= 0:
            return int(row[0])
    plan = json.loads(query.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Exact counts of small lists, estimates above :data:`EXACT_COUNT_LIMIT`, at most :data:`MAX_PAGES` pages."""

    exact_count_limit = EXACT_COUNT_LIMIT
    max_pages = MAX_PAGES

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        counted = queryset.order_by()[: self.exact_count_limit + 1].count()
        if counted <= self.exact_count_limit:
            return counted
        return max(counted, estimated_rows(queryset))

    @property
    def is_estimated(self) -> bool:
        return self.count > self.exact_count_limit

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, self.max_pages)


class BigTableAdminMixin:
    """For a ModelAdmin over a table that grows without bound: no full count, estimated page counts."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator

"""Reads of the inventory that are more than a lookup."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import orjson
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from maintenance.db import StatementCache

# The columns of a part as the API shows it, read with ``values_list``.
PART_ROW_FIELDS = (
    "id",
    "name",
    "sku",
    "price",
    "stock",
    "min_stock",
    "category_id",
    "category__name",
    "category__description",
    "date_created",
    "date_updated",
)

# How PostgreSQL writes one part as the API shows it (SparePartSerializer): the
# columns of PART_ROW_FIELDS, in that order, are named by the FROM clause below.
# Prices are numeric(10, 2), whose text is DRF's string with two decimals.
_PART_JSON = """json_build_object(
    'id', p.id, 'name', p.name, 'sku', p.sku, 'price', p.price::text, 'stock', p.stock,
    'min_stock', p.min_stock, 'is_low_stock', p.stock <= p.min_stock, 'category_id', p.category_id,
    'category', CASE WHEN p.category_id IS NULL THEN NULL
                     ELSE json_build_object('id', p.category_id, 'name', p.category_name,
                                            'description', p.category_description) END,
    'date_created', api_datetime(p.date_created, %s), 'date_updated', api_datetime(p.date_updated, %s))"""
_PART_COLUMNS = (
    "id, name, sku, price, stock, min_stock, category_id, category_name, category_description, "
    "date_created, date_updated"
)

part_page_statements = StatementCache()

BIGINT_MAX = 2**63 - 1


def _part_page_statement(queryset: QuerySet) -> tuple[str, str, tuple, tuple]:
    rows_sql, rows_params = queryset.values_list(*PART_ROW_FIELDS).query.sql_with_params()
    count_sql, count_params = queryset.order_by().values("pk").query.sql_with_params()
    # The page's LIMIT and OFFSET go between the two halves.
    head = (
        f"SELECT (SELECT count(*) FROM ({count_sql}) AS counted), "
        f"(SELECT coalesce(json_agg({_PART_JSON}), '[]')::text FROM ({rows_sql}"
    )
    tail = f") AS p({_PART_COLUMNS}))"
    return head, tail, tuple(count_params), tuple(rows_params)


def part_page(
    build_queryset: Callable[[], QuerySet], *, limit: int, offset: int, key: Hashable
) -> tuple[int, list[dict]]:
    """How many parts the queryset holds, and one page of them as the API shows them.

    The catalogue page is the API's hottest read. Through the ORM its 50 rows
    cost more than the rest of the request: psycopg parsing two timestamps and a
    decimal per row, the row tuples, the dicts, the JSON. Here PostgreSQL builds
    the page's JSON and counts the rows in the same statement, one round trip;
    the ORM still writes the filtering and the ordering. The aggregate reads the
    page from a sorted, limited subquery, which keeps its order (PostgREST builds
    its responses the same way). A test holds the result against the serializer.

    ``build_queryset()`` gives the filtered, ordered parts; its SQL must depend
    on ``key`` alone (the request's filter, search and ordering parameters): it
    is compiled once per key and process (:class:`maintenance.db.StatementCache`),
    for any page and time zone.
    """
    head, tail, count_params, rows_params = part_page_statements.get(
        key, lambda: _part_page_statement(build_queryset())
    )
    zone = timezone.get_current_timezone_name()
    # LIMIT and OFFSET are written into the SQL, as the ORM does: as parameters they
    # would leave PostgreSQL to plan for any page size (a sort of every row). Both are
    # bigints there; a larger offset is past the last row anyway (an empty page, the count).
    limit, offset = min(limit, BIGINT_MAX), min(offset, BIGINT_MAX)
    with connection.cursor() as cursor:
        cursor.execute(f"{head} LIMIT {limit:d} OFFSET {offset:d}{tail}", [*count_params, zone, zone, *rows_params])
        count, page = cursor.fetchone()
    return count, orjson.loads(page)

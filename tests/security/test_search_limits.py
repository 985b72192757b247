"""Search is bounded and indexed (issue 22, finding 3).

Before the fix ``?search=c`` repeated 1,500 times ran 1,500 ILIKEs over five unindexed columns
of every order until the statement timeout, holding a worker.
"""

from __future__ import annotations

import pytest
from django.db import connection

from inventory.tests.factories import SparePartFactory
from orders.models import ServiceOrder

pytestmark = pytest.mark.django_db


def test_search_terms_are_deduplicated_and_bounded_in_number_and_length(api):
    SparePartFactory(name="Gate valve", sku="V-BRS-20-1")
    assert api.get("/api/v1/orders/?search=" + "+".join(["c"] * 1500)).status_code == 200  # one term, deduplicated
    too_many = api.get("/api/v1/orders/?search=a+b+c+d+e+f")
    assert too_many.status_code == 400 and "search" in too_many.json()
    too_long = api.get("/api/v1/items/?search=" + "x" * 101)
    assert too_long.status_code == 400 and "search" in too_long.json()
    found = api.get("/api/v1/items/?search=GATE+Gate+valve")
    assert found.status_code == 200 and [part["sku"] for part in found.json()["results"]] == ["V-BRS-20-1"]


def test_order_search_uses_the_trigram_indexes():
    ServiceOrder.objects.bulk_create(
        ServiceOrder(request_id=f"r-{n}", client_name=f"Client {n}", client_email=f"c{n}@example.com")
        for n in range(50)
    )
    with connection.cursor() as cursor:
        # A small table is read whole whatever the indexes; with sequential scans priced out, the
        # plan shows whether an index matches the expression the search compares (none did before).
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Nor a plain index scan with the condition as a filter: only an index that matches it remains.
        cursor.execute("SET LOCAL enable_indexscan = off")
        # Fresh statistics, and no ORDER BY: with the default ordering and stale row counts (left by
        # earlier live tests' flushes) the planner may walk the date_created index backwards instead.
        cursor.execute("ANALYZE orders_serviceorder")
        queryset = ServiceOrder.objects.filter(client_name__icontains="nt 1234").order_by()
        sql, params = queryset.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "orders_order_client_name_trgm" in plan, plan

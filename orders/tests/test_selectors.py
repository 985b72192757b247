"""orders.selectors, called directly: a page of orders in a constant number of queries, shaped like a fresh read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.tests.factories import SparePartFactory
from orders import selectors, services
from orders.serializers import ServiceOrderSerializer

pytestmark = pytest.mark.django_db


def place(n: int, parts) -> list[int]:
    return [
        services.place_order(
            request_id=f"sel-{n}-{i}", items=[{"spare_part_id": part.pk, "quantity": 1} for part in parts]
        ).order.pk
        for i in range(n)
    ]


def read_all(ids: list[int]) -> list[dict]:
    return [ServiceOrderSerializer(order).data for order in selectors.orders_with_details().filter(pk__in=ids)]


def test_a_page_of_orders_with_lines_parts_categories_and_photos_costs_the_same_queries_for_1_or_6(
    django_assert_num_queries,
):
    parts = [SparePartFactory(stock=100) for _ in range(3)]
    one, six = place(1, parts), place(6, parts)
    with CaptureQueriesContext(connection) as single:
        assert len(read_all(one)) == 1
    with django_assert_num_queries(len(single.captured_queries)):
        orders = read_all(six)
    assert len(orders) == 6 and all(len(order["items"]) == 3 for order in orders)
    assert all(line["spare_part"]["category"] for order in orders for line in order["items"])


def test_the_answer_built_from_memory_after_placing_equals_a_fresh_read():
    part = SparePartFactory(stock=10)
    placed = services.place_order(request_id="memory", items=[{"spare_part_id": part.pk, "quantity": 2}])
    from_memory = ServiceOrderSerializer(selectors.placed_order_details(placed)).data
    from_db = ServiceOrderSerializer(selectors.order_with_details(placed.order.pk)).data
    for line in from_memory["items"] + from_db["items"]:
        line["spare_part"].pop("date_updated")  # the stock UPDATE sets it in the database only
    assert from_memory == from_db

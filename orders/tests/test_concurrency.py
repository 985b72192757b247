"""Real parallel requests against gunicorn (two worker processes) on the test database."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests
from django.db.models import Sum

from conftest import make_user, token_for
from inventory.models import SparePart, StockMovement
from inventory.tests.factories import SparePartFactory
from orders.models import ServiceOrder, ServiceOrderItem

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def post_in_parallel(url, headers, payloads):
    """One thread per payload, all released at the same instant."""
    barrier = Barrier(len(payloads))

    def send(payload):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(url, json=payload, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(send, payloads))


def test_forty_parallel_orders_on_stock_ten_never_oversell(live_server_url):
    user = make_user(is_superuser=True, is_staff=True)
    headers = {"Authorization": f"Token {token_for(user)}"}
    part = SparePartFactory(stock=10)
    payloads = [{"request_id": f"c-{n}", "items": [{"spare_part_id": part.pk, "quantity": 1}]} for n in range(40)]

    responses = post_in_parallel(f"{live_server_url}/api/v1/orders/", headers, payloads)

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 30, statuses
    part.refresh_from_db()
    assert part.stock == 0
    assert ServiceOrder.objects.count() == 10
    assert ServiceOrderItem.objects.aggregate(q=Sum("quantity"))["q"] == 10
    assert StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"] == 0


def test_parallel_multi_part_orders_do_not_deadlock(live_server_url):
    """Orders naming the same parts in opposite order lock rows by id: no deadlock, no oversell."""
    user = make_user(is_superuser=True, is_staff=True)
    headers = {"Authorization": f"Token {token_for(user)}"}
    a = SparePartFactory(stock=15)
    b = SparePartFactory(stock=15)
    payloads = []
    for n in range(30):
        first, second = (a, b) if n % 2 else (b, a)
        items = [{"spare_part_id": first.pk, "quantity": 1}, {"spare_part_id": second.pk, "quantity": 1}]
        payloads.append({"request_id": f"d-{n}", "items": items})

    responses = post_in_parallel(f"{live_server_url}/api/v1/orders/", headers, payloads)

    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 15, statuses
    assert set(statuses) <= {201, 409}
    for part in SparePart.objects.all():
        assert part.stock == 0
        assert StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"] == 0

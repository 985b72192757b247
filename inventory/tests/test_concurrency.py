"""Concurrent stock adjustments on one part: no lost update, never negative, ledger exact."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests
from django.db.models import Sum

from conftest import make_user, token_for
from inventory.models import StockMovement
from inventory.tests.factories import SparePartFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_parallel_adjustments_keep_the_ledger_exact(live_server_url):
    user = make_user(is_superuser=True, is_staff=True)
    headers = {"Authorization": f"Token {token_for(user)}"}
    part = SparePartFactory(sku="A-STL-M10-50", stock=20)
    deltas = [+3, -2] * 15 + [-5] * 10  # 45 - 30 - 50: some takes must be refused
    barrier = Barrier(len(deltas))
    url = f"{live_server_url}/api/v1/items/A-STL-M10-50/adjust-stock/"

    def send(delta):
        barrier.wait(timeout=30)
        return delta, requests.post(url, json={"delta": delta}, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=len(deltas)) as pool:
        results = list(pool.map(send, deltas))

    assert {status for _, status in results} <= {200, 409}
    accepted = sum(delta for delta, status in results if status == 200)
    part.refresh_from_db()
    assert part.stock == 20 + accepted
    assert part.stock >= 0
    ledger = StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"]
    assert ledger == part.stock
    assert StockMovement.objects.filter(spare_part=part).count() == 1 + sum(1 for _, s in results if s == 200)

"""A gunicorn worker is killed (SIGKILL) in the middle of placing an order."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
import requests

from tests.resilience.conftest import (
    Background,
    orders_by_request_id,
    report,
    row_lock,
    stock_ledger_mismatches,
    stock_of,
    wait_for_lock_waiter,
    wait_until,
)

pytestmark = pytest.mark.live


def test_worker_killed_mid_order(stack, api, server):
    part_id = api.create_part(stock=100)
    request_id = f"kill-{uuid.uuid4().hex}"
    items = [{"spare_part_id": part_id, "quantity": 3}]
    statuses: list = []

    # Writing the ledger waits on a table lock held here: by then the worker has inserted
    # the order and taken the stock, all in its still open transaction.
    with row_lock(stack, "LOCK TABLE inventory_stockmovement IN SHARE ROW EXCLUSIVE MODE"):
        first = Background(api.place_order, request_id, items, timeout=30)
        first.start()
        backend = wait_for_lock_waiter(stack)
        worker = wait_until(server.busy_worker, timeout=5, message="the busy worker is found")
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        response, error = first.outcome(10)
        statuses.append(type(error).__name__ if error else response.status_code)
        assert isinstance(error, requests.ConnectionError), f"expected a dropped connection, got {response or error}"

        replaced = server.wait_for_workers(2, exclude={worker})
        worker_back_s = time.monotonic() - killed_at
        assert worker not in server.worker_pids() and len(replaced) == 2

        # The dead worker's database session still waits on the lock, and its lease on the
        # key runs: a retry now must not run the order a second time.
        early = api.place_order(request_id, items)
        statuses.append(early.status_code)
        assert early.status_code == 409 and early.json()["code"] == "idempotency_key_in_use", early.text
        assert early.headers["Retry-After"]

    # The table lock is gone; the orphaned session finds its client gone and rolls back.
    wait_until(
        lambda: not stack.fetch("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend]),
        timeout=10,
        message="the killed worker's database session ends",
    )
    assert orders_by_request_id(stack, [request_id]) == {}, "a partial order survived the killed worker"
    assert stock_of(stack, part_id) == 100
    assert stock_ledger_mismatches(stack) == []

    retried_at = time.monotonic()
    while True:
        retry = api.place_order(request_id, items)
        statuses.append(retry.status_code)
        # 409 until the dead worker's lease runs out (IDEMPOTENCY_LEASE_SECONDS, 6 s here), then it runs.
        if retry.status_code != 409 or time.monotonic() - retried_at > 20:
            break
        time.sleep(float(retry.headers.get("Retry-After", 1)))
    assert retry.status_code == 201, retry.text
    assert retry.headers.get("Idempotent-Replayed") is None
    replay = api.place_order(request_id, items)
    statuses.append(replay.status_code)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == retry.json()["id"]

    assert orders_by_request_id(stack, [request_id]) == {request_id: [retry.json()["id"]]}
    assert stock_of(stack, part_id) == 97
    assert stock_ledger_mismatches(stack) == []
    records = stack.fetch(
        "SELECT state, response_status FROM idempotency_processedrequest WHERE key = %s", [request_id]
    )
    assert records == [("completed", 201)]
    report(
        "worker killed mid-request",
        requests=len(statuses),
        statuses=statuses,
        worker_replaced_s=round(worker_back_s, 2),
        orders_for_key=1,
        stock="100 -> 97 once",
        idempotency_records=records,
    )

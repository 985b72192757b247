"""A stuck query: the statement timeout answers 503 quickly; past that, gunicorn's timeout answers 504."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import requests

from tests.resilience.conftest import Api as Client
from tests.resilience.conftest import (
    Background,
    Gunicorn,
    orders_by_request_id,
    report,
    row_lock,
    stock_ledger_mismatches,
    stock_of,
    wait_for_lock_waiter,
    wait_until,
)

pytestmark = pytest.mark.live

STATEMENT_TIMEOUT_MS = 1000
GUNICORN_TIMEOUT = 3


def _retry_until_placed(client, request_id, items, timeout: float = 15) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = client.place_order(request_id, items)
        if response.status_code != 409 or time.monotonic() > deadline:
            return response
        time.sleep(float(response.headers.get("Retry-After", 1)))


def test_statement_timeout_answers_503(stack, services, api):
    server = Gunicorn(stack, DATABASE_STATEMENT_TIMEOUT_MS=STATEMENT_TIMEOUT_MS).start()
    try:
        client = Client(server.url, services.token)
        part_id = api.create_part(stock=50)
        items = [{"spare_part_id": part_id, "quantity": 1}]
        request_id = f"slow-{uuid.uuid4().hex}"
        with row_lock(stack, "SELECT id FROM inventory_sparepart WHERE id = %s FOR UPDATE", [part_id]):
            started = time.monotonic()
            in_view = client.place_order(request_id, items, headers={"X-Request-ID": f"stuck-{request_id}"})
            in_view_s = time.monotonic() - started
        assert in_view.status_code == 503, in_view.text
        assert in_view.json()["code"] == "database_timeout"
        assert in_view.json()["request_id"] == in_view.headers["X-Request-ID"]
        assert in_view.headers["X-Client-Request-ID"] == f"stuck-{request_id}"
        assert in_view_s < 4, f"the stuck request took {in_view_s:.1f} s"
        assert wait_until(lambda: server.logged(503, f"stuck-{request_id}"), timeout=5, message="the log line")

        # Stuck outside DRF: the idempotency middleware cannot reserve its key.
        other_id = f"slow-{uuid.uuid4().hex}"
        with row_lock(stack, "LOCK TABLE idempotency_processedrequest IN EXCLUSIVE MODE"):
            started = time.monotonic()
            in_middleware = client.place_order(other_id, items)
            in_middleware_s = time.monotonic() - started
        assert in_middleware.status_code == 503, in_middleware.text
        assert in_middleware.headers["Content-Type"] == "application/json"
        assert in_middleware.json()["code"] == "database_timeout"
        assert in_middleware.json()["request_id"] == in_middleware.headers["X-Request-ID"]
        assert in_middleware.headers["Retry-After"]
        assert in_middleware_s < 4

        # Nothing was written; the same request ids then succeed, once.
        assert orders_by_request_id(stack, [request_id, other_id]) == {}
        assert client.place_order(request_id, items).status_code == 201
        assert client.place_order(other_id, items).status_code == 201
        assert stock_of(stack, part_id) == 48
        assert stock_ledger_mismatches(stack) == []
        report(
            "slow database (statement_timeout=1s)",
            requests=4,
            statuses=[in_view.status_code, in_middleware.status_code, 201, 201],
            stuck_in_view_s=round(in_view_s, 2),
            stuck_in_middleware_s=round(in_middleware_s, 2),
            orders="one per request id",
        )
    finally:
        server.stop()


def test_gunicorn_timeout_answers_504_and_replaces_the_worker(stack, services, api):
    server = Gunicorn(stack, timeout=GUNICORN_TIMEOUT, DATABASE_STATEMENT_TIMEOUT_MS=0).start()
    try:
        client = Client(server.url, services.token)
        part_id = api.create_part(stock=50)
        items = [{"spare_part_id": part_id, "quantity": 2}]
        request_id = f"stuck-{uuid.uuid4().hex}"
        workers = set(server.worker_pids())
        with row_lock(stack, "SELECT id FROM inventory_sparepart WHERE id = %s FOR UPDATE", [part_id]):
            stuck = Background(client.place_order, request_id, items, timeout=30)
            stuck.start()
            wait_for_lock_waiter(stack)
            stuck_worker = wait_until(server.busy_worker, timeout=5, message="the busy worker is found")
            # One stuck worker leaves the other one serving.
            assert requests.get(f"{server.url}/health/", timeout=10).status_code == 200
            response, error = stuck.outcome(GUNICORN_TIMEOUT + 10)
            stuck_s = stuck.finished_at - stuck.started_at
            assert error is None, error
            assert response.status_code == 504, response.text
            assert response.json()["code"] == "timeout"
            assert response.json()["request_id"] == response.headers["X-Request-ID"]
            assert stuck_s < GUNICORN_TIMEOUT + 5
            replaced = server.wait_for_workers(2, exclude={stuck_worker})
            assert stuck_worker not in replaced and len(set(replaced) - workers) == 1, "the worker was not replaced"

        # A client that never finishes its request holds a worker only until the timeout, which closes it.
        with socket.create_connection(("127.0.0.1", server.port), timeout=GUNICORN_TIMEOUT + 10) as slow:
            slow.sendall(b"POST /api/v1/orders/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            answer = slow.recv(4096)
            slow_client_s = time.monotonic() - started
        assert answer == b"", answer[:200]  # closed by the timeout, not left hanging
        assert slow_client_s < GUNICORN_TIMEOUT + 5

        # The aborted request wrote nothing; its retry places the order once.
        wait_until(lambda: orders_by_request_id(stack, [request_id]) == {}, timeout=5, message="no order")
        retry = _retry_until_placed(client, request_id, items)
        assert retry.status_code == 201, retry.text
        assert orders_by_request_id(stack, [request_id]) == {request_id: [retry.json()["id"]]}
        assert stock_of(stack, part_id) == 48
        assert stock_ledger_mismatches(stack) == []
        report(
            "stuck query past gunicorn timeout (3 s, no statement timeout)",
            requests=4,
            statuses=[response.status_code, 200, "closed", retry.status_code],
            stuck_request_s=round(stuck_s, 2),
            slow_client_cut_s=round(slow_client_s, 2),
            orders="one after retry",
        )
    finally:
        server.stop()

"""Stopping: SIGTERM lets in-flight requests finish; an unclean PostgreSQL crash is recovered on the next start."""

from __future__ import annotations

import os
import signal
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
    wait_for_lock_waiter,
)

pytestmark = pytest.mark.live


def test_sigterm_finishes_in_flight_request(stack, services, api):
    server = Gunicorn(stack, graceful=10).start()
    try:
        client = Client(server.url, services.token)
        part_id = api.create_part(stock=20)
        request_id = f"term-{uuid.uuid4().hex}"
        with row_lock(stack, "SELECT id FROM inventory_sparepart WHERE id = %s FOR UPDATE", [part_id]):
            in_flight = Background(client.place_order, request_id, [{"spare_part_id": part_id, "quantity": 1}])
            in_flight.start()
            wait_for_lock_waiter(stack)
            server.terminate()
            term_at = time.monotonic()
            time.sleep(1.0)
            # Stopping: no new request is served, but the master waits for the busy worker.
            with pytest.raises(requests.RequestException):
                requests.get(f"{server.url}/health/", timeout=1)
            assert server.proc.poll() is None, "gunicorn quit with a request in flight"
        response, error = in_flight.outcome(15)
        assert error is None, error
        assert response.status_code == 201, response.text
        server.proc.wait(15)
        stopped_s = time.monotonic() - term_at
        assert server.proc.returncode == 0
        assert orders_by_request_id(stack, [request_id]) == {request_id: [response.json()["id"]]}
        report(
            "graceful shutdown (SIGTERM)",
            requests=2,
            statuses=[response.status_code, "new request not served"],
            in_flight_finished_s=round(in_flight.finished_at - term_at, 2),
            gunicorn_stopped_s=round(stopped_s, 2),
            exit_code=server.proc.returncode,
        )
    finally:
        server.stop()


def test_postgres_killed_uncleanly_recovers(stack, api, server):
    part_id = api.create_part(stock=20)
    before = api.place_order(f"crash-{uuid.uuid4().hex}", [{"spare_part_id": part_id, "quantity": 1}])
    assert before.status_code == 201
    orders_before = stack.fetch("SELECT count(*) FROM orders_serviceorder")[0][0]

    os.kill(stack.postmaster_pid(), signal.SIGKILL)
    killed_at = time.monotonic()
    down = api.request("GET", "/api/v1/orders/")
    assert down.status_code == 503 and down.json()["code"] == "database_unavailable", down.text

    stop_s = stack.stop(["postgres"])  # nothing to stop cleanly: must not fail or hang
    assert stop_s < 15
    started = time.monotonic()
    stack.start()  # crash recovery
    start_s = time.monotonic() - started
    assert stack.pg_answers()

    statuses, deadline = [], time.monotonic() + 15
    while time.monotonic() < deadline:
        after = api.place_order(f"crash-{uuid.uuid4().hex}", [{"spare_part_id": part_id, "quantity": 1}])
        statuses.append(after.status_code)
        if after.status_code == 201:
            break
        assert after.status_code == 503, after.text
        time.sleep(0.2)
    assert statuses[-1] == 201, statuses
    recovered_s = time.monotonic() - killed_at
    assert stack.fetch("SELECT count(*) FROM orders_serviceorder")[0][0] == orders_before + 1
    assert stock_ledger_mismatches(stack) == []
    report(
        "postgres kill -9, devservices stop + start",
        requests=2 + len(statuses),
        statuses=[before.status_code, down.status_code, *statuses],
        devservices_stop_s=round(stop_s, 2),
        devservices_start_s=round(start_s, 2),
        app_recovered_s=round(recovered_s, 2),
        committed_orders_kept=orders_before,
    )

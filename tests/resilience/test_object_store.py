"""SeaweedFS goes away: uploads answer 503 naming the storage, nothing half-saved, the rest keeps working."""

from __future__ import annotations

import io
import time
import uuid

import pytest
import requests
from PIL import Image

from tests.resilience.conftest import report, stock_ledger_mismatches, wait_until

pytestmark = pytest.mark.live


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(api, order_id: int) -> requests.Response:
    return api.request("POST", f"/api/v1/orders/{order_id}/images/", files={"file": ("photo.png", _png(), "image/png")})


def _image_rows(stack, order_id: int) -> int:
    return stack.fetch("SELECT count(*) FROM media_uploads_serviceorderimage WHERE order_id = %s", [order_id])[0][0]


def test_object_store_down_then_back(stack, api, server):
    part_id = api.create_part(stock=1000)
    order = api.place_order(f"s3-{uuid.uuid4().hex}", [{"spare_part_id": part_id, "quantity": 1}])
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    assert _upload(api, order_id).status_code == 201  # the storage works before the fault
    statuses: dict[str, list[int]] = {}

    down_at = time.monotonic()
    stack.stop(["s3"])
    try:
        started = time.monotonic()
        upload = _upload(api, order_id)
        upload_seconds = time.monotonic() - started
        statuses["upload"] = [upload.status_code]
        assert upload.status_code == 503, upload.text
        body = upload.json()
        assert body["code"] == "storage_unavailable"
        assert "storage" in body["detail"].lower() and "S3" in body["detail"]
        assert body["request_id"] == upload.headers["X-Request-ID"]
        assert upload_seconds < 10, f"the failing upload took {upload_seconds:.1f} s"
        assert _image_rows(stack, order_id) == 1, "a row was written for an image that was not stored"

        # Orders and inventory do not need the object store.
        other = api.place_order(f"s3-{uuid.uuid4().hex}", [{"spare_part_id": part_id, "quantity": 2}])
        adjust = api.request("POST", f"/api/v1/items/{api.skus[part_id]}/adjust-stock/", json={"delta": 5})
        listing = api.request("GET", "/api/v1/items/")
        # An order's detail lists its images; their links are signed locally, without S3.
        detail = api.request("GET", f"/api/v1/orders/{order_id}/")
        statuses["orders/inventory"] = [other.status_code, adjust.status_code, listing.status_code, detail.status_code]
        assert other.status_code == 201, other.text
        assert adjust.status_code in (200, 201), adjust.text
        assert listing.status_code == 200
        assert detail.status_code == 200, detail.text

        health = requests.get(f"{server.url}/health/", timeout=20)
        statuses["health_down"] = [health.status_code]
        assert health.status_code == 503
        assert health.json()["failing"] == ["storage"]
        assert health.json()["checks"]["database"]["status"] == "ok"
    finally:
        stack.start()
    up_at = time.monotonic()

    def healthy():
        return requests.get(f"{server.url}/health/", timeout=20).status_code == 200

    wait_until(healthy, timeout=20, interval=0.2, message="/health/ back to 200")
    time_to_recover = time.monotonic() - up_at
    upload = _upload(api, order_id)
    statuses["upload_after"] = [upload.status_code]
    assert upload.status_code == 201, upload.text
    fetched = requests.get(upload.json()["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == _png()
    assert _image_rows(stack, order_id) == 2
    assert stock_ledger_mismatches(stack) == []
    report(
        "object store down",
        requests=sum(len(v) for v in statuses.values()),
        statuses=statuses,
        failing_upload_s=round(upload_seconds, 2),
        outage_s=round(up_at - down_at, 2),
        time_to_recover_s=round(time_to_recover, 2),
        image_rows="1 before, 1 during, 2 after",
    )

"""Errors under /api/ are JSON with the request id of the response header and of the request log line."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.resilience.conftest import wait_until

pytestmark = pytest.mark.live


@pytest.mark.parametrize(
    ("method", "path", "extra", "status"),
    [
        ("GET", "/api/v1/does-not-exist/", {}, 404),
        ("GET", "/api/v1/orders/999999999/", {}, 404),
        ("PUT", "/api/v1/orders/", {}, 405),
        ("GET", "/api/v1/orders/", {"anonymous": True}, 401),
        ("GET", "/api/v1/items/", {"headers": {"Host": "evil.example"}}, 400),
        ("POST", "/api/v1/items/", {"data": b"{", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/api/v1/items/", {"data": b"x" * (3 * 1024 * 1024)}, 413),
    ],
)
def test_api_errors_are_json_with_request_id(api, server, method, path, extra, status):
    request_id = f"err-{uuid.uuid4().hex}"
    headers = {"X-Request-ID": request_id, **extra.get("headers", {})}
    if extra.get("anonymous"):
        response = requests.request(method, f"{server.url}{path}", headers=headers, timeout=20)
    else:
        response = api.request(method, path, headers=headers, data=extra.get("data"))
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
    body = response.json()
    assert body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"] != request_id  # the server's own id
    assert response.headers["X-Client-Request-ID"] == request_id

    wait_until(lambda: server.logged(status, request_id), timeout=5, message="the request log line with this id")

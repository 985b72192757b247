"""Oversized requests are refused with a clear 4xx that names the limit, before they cost much."""

from __future__ import annotations

import io
import socket
import time
import uuid

import pytest
from django.conf import settings
from PIL import Image

from tests.resilience.conftest import report

pytestmark = pytest.mark.live


def _raw(server, request: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are (no client library to refuse or fix them) and read the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def _png_of_size(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 120, 200)).save(buffer, format="PNG")
    data = buffer.getvalue()
    return data + b"\0" * (size - len(data))  # trailing bytes after IEND: still a PNG to Pillow


def test_oversized_requests(stack, api, server):
    statuses: dict[str, int] = {}
    durations: dict[str, float] = {}

    def timed(name, func, *args, **kwargs):
        started = time.monotonic()
        response = func(*args, **kwargs)
        durations[name] = round(time.monotonic() - started, 2)
        statuses[name] = response.status_code
        return response

    # JSON above DATA_UPLOAD_MAX_MEMORY_SIZE.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = {"request_id": f"big-{uuid.uuid4().hex}", "items": [], "description": "x" * (limit + 1000)}
    big = timed("json_body", api.request, "POST", "/api/v1/orders/", json=body)
    assert big.status_code == 413, big.text
    assert big.json()["code"] == "request_too_large"
    assert big.json()["limit_bytes"] == limit and str(limit) in big.json()["detail"]
    assert big.json()["request_id"] == big.headers["X-Request-ID"]

    # Images: above the image limit, and far above it (refused before the body is read).
    part_id = api.create_part(stock=10)
    order = api.place_order(f"lim-{uuid.uuid4().hex}", [{"spare_part_id": part_id, "quantity": 1}])
    assert order.status_code == 201
    order_id = order.json()["id"]
    image_limit = settings.MAX_IMAGE_UPLOAD_BYTES
    for name, size in (("image_just_over", image_limit + 1), ("image_far_over", image_limit + 1024 * 1024)):
        upload = timed(
            name,
            api.request,
            "POST",
            f"/api/v1/orders/{order_id}/images/",
            files={"file": ("big.png", _png_of_size(size), "image/png")},
        )
        assert upload.status_code == 413, upload.text
        assert str(image_limit) in upload.json()["detail"], upload.json()
        assert upload.json()["request_id"] == upload.headers["X-Request-ID"]
    assert not stack.fetch("SELECT 1 FROM media_uploads_serviceorderimage WHERE order_id = %s", [order_id])

    # More lines than MAX_ORDER_LINES.
    most = settings.MAX_ORDER_LINES
    lines = [{"spare_part_id": part_id, "quantity": 1}] * (most + 1)
    many = timed("too_many_lines", api.place_order, f"lim-{uuid.uuid4().hex}", lines)
    assert many.status_code == 400, many.text
    assert str(most) in str(many.json()["items"]), many.json()

    # gunicorn's own limits: request line, one header's size, the number of headers.
    host = b"Host: 127.0.0.1\r\n"
    long_line = _raw(server, b"GET /api/v1/items/?q=" + b"a" * 9000 + b" HTTP/1.1\r\n" + host + b"\r\n")
    long_header = _raw(server, b"GET /health/ HTTP/1.1\r\n" + host + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n")
    many_headers = _raw(
        server, b"GET /health/ HTTP/1.1\r\n" + host + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n"
    )
    statuses.update(
        request_line=_status(long_line), header_size=_status(long_header), header_count=_status(many_headers)
    )
    assert statuses["request_line"] == 414
    assert statuses["header_size"] in (400, 431)
    assert statuses["header_count"] in (400, 431)
    assert max(durations.values()) < 10, durations

    assert server.proc.poll() is None and len(server.worker_pids()) == 2
    report("oversized requests", requests=len(statuses), statuses=statuses, seconds=durations)

"""The permission matrix: each role x each endpoint and method -> allowed, 401 or 403."""

import io
import subprocess
import sys

import pytest
from PIL import Image
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from conftest import PROJECT_DIR, client_for, make_user
from inventory.tests.factories import CategoryFactory, SparePartFactory
from maintenance.accounts.roles import INVENTORY_MANAGERS, TECHNICIANS, VIEWERS
from orders import services as orders

pytestmark = pytest.mark.django_db

IM, TECH, VIEW, NONE, ANON = "inventory_manager", "technician", "viewer", "no_role", "anonymous"
ROLE_GROUPS = {IM: INVENTORY_MANAGERS, TECH: TECHNICIANS, VIEW: VIEWERS, NONE: None}


@pytest.fixture
def world(roles):
    category = CategoryFactory(name="Bearings")
    part = SparePartFactory(sku="A-STL-M10-50", stock=100)
    spare = SparePartFactory(sku="Z-STL-M10-50", stock=0)
    order = orders.place_order(
        request_id="w", items=[{"spare_part_id": part.pk, "quantity": 1}, {"spare_part_id": part.pk, "quantity": 1}]
    ).order
    return {"category": category, "part": part, "spare": spare, "order": order, "item": order.items.first()}


def png_file():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "photo.png"
    return buffer


# (method, url, body, roles allowed)
def endpoints(w):
    order, part = w["order"], w["part"]
    return [
        ("get", "/api/v1/categories/", None, {IM, TECH, VIEW}),
        ("post", "/api/v1/categories/", {"name": "New"}, {IM}),
        ("patch", f"/api/v1/categories/{w['category'].pk}/", {"description": "d"}, {IM}),
        ("delete", f"/api/v1/categories/{w['category'].pk}/", None, {IM}),
        ("get", "/api/v1/items/", None, {IM, TECH, VIEW}),
        ("get", f"/api/v1/items/{part.sku}/", None, {IM, TECH, VIEW}),
        ("post", "/api/v1/items/", {"name": "n", "sku": "N-N-N-N", "price": "1"}, {IM}),
        ("patch", f"/api/v1/items/{part.sku}", {"price": "2.00"}, {IM}),
        ("delete", f"/api/v1/items/{w['spare'].sku}/", None, {IM}),
        ("post", f"/api/v1/items/{part.sku}/adjust-stock/", {"delta": 1}, {IM}),
        ("get", f"/api/v1/items/{part.sku}/movements/", None, {IM, TECH, VIEW}),
        ("get", "/api/v1/orders/", None, {IM, TECH, VIEW}),
        ("get", f"/api/v1/orders/{order.pk}/", None, {IM, TECH, VIEW}),
        (
            "post",
            "/api/v1/orders/",
            {"request_id": "new", "items": [{"spare_part_id": part.pk, "quantity": 1}]},
            {TECH},
        ),
        ("patch", f"/api/v1/orders/{order.pk}/", {"status": "in_progress"}, {TECH}),
        ("post", f"/api/v1/orders/{order.pk}/items/", {"spare_part_id": part.pk, "quantity": 1}, {TECH}),
        ("delete", f"/api/v1/orders/{order.pk}/items/{w['item'].pk}/", None, {TECH}),
        ("get", f"/api/v1/orders/{order.pk}/images/", None, {IM, TECH, VIEW}),
        ("post", f"/api/v1/orders/{order.pk}/images/", "image", {TECH}),
        ("get", "/api/v1/audit/", None, set()),
    ]


CASES = [(role, index) for role in (IM, TECH, VIEW, NONE, ANON) for index in range(20)]


@pytest.mark.parametrize("role, index", CASES)
def test_permission_matrix(world, role, index):
    method, url, body, allowed = endpoints(world)[index]
    if role == ANON:
        client = APIClient()
    else:
        group = ROLE_GROUPS[role]
        client = client_for(make_user(role, groups=(group,) if group else ()))
    kwargs = {}
    if body == "image":
        kwargs = {"data": {"file": png_file()}, "format": "multipart"}
    elif body is not None:
        kwargs = {"data": body, "format": "json"}
    response = getattr(client, method)(url, **kwargs)
    if role == ANON:
        assert response.status_code == 401, (method, url, response.content)
    elif role in allowed:
        assert response.status_code in (200, 201, 204), (method, url, response.content)
    else:
        assert response.status_code == 403, (method, url, response.content)
        assert "permission" in response.json()["detail"].lower() or "staff" in response.json()["detail"].lower()


def test_forbidden_message_names_the_missing_permission(world):
    viewer = client_for(make_user("v", groups=(VIEWERS,)))
    response = viewer.post("/api/v1/categories/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "inventory.add_category" in response.json()["detail"]


def test_session_authentication_works_for_staff(world, client):
    staff = make_user("staffer", is_staff=True, groups=(VIEWERS,))
    client.force_login(staff)
    assert client.get("/api/v1/items/").status_code == 200
    browsable = client.get("/api/v1/items/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200
    assert b"Spare Part List" in browsable.content or b"api" in browsable.content.lower()


@pytest.mark.parametrize("role", [IM, TECH, VIEW, NONE])
def test_api_root_lists_the_collections_for_any_signed_in_client(world, role):
    group = ROLE_GROUPS[role]
    client = client_for(make_user(role, groups=(group,) if group else ()))
    response = client.get("/api/v1/")
    assert response.status_code == 200, response.content
    links = response.json()
    assert {"items", "categories", "orders"} <= set(links)
    assert links["orders"].rstrip("/").endswith("/api/v1/orders")  # the routes take both forms
    # The links are only links: a client without a role still cannot read through them.
    assert client.get("/api/v1/orders/").status_code == (403 if role == NONE else 200)


def test_api_root_needs_authentication(world):
    assert APIClient().get("/api/v1/").status_code == 401


def test_browsable_api_root_for_staff(world, client):
    client.force_login(make_user("staffer", is_staff=True, groups=(VIEWERS,)))
    response = client.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"/api/v1/items" in response.content


def test_token_authentication_rejects_a_bad_token(world):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/items/").status_code == 401


def test_public_endpoints_stay_public(client):
    assert client.get("/health/").status_code == 200
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200


def test_schema_declares_token_and_session_schemes(client):
    schema = client.get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["type"] == "apiKey"
    assert schemes["cookieAuth"]["type"] == "apiKey"


def test_throttling_returns_429_with_retry_after(world, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})
    from django.core.cache import cache

    cache.clear()
    client = client_for(make_user("busy", groups=(VIEWERS,)))
    statuses = [client.get("/api/v1/items/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/items/")
    assert int(response["Retry-After"]) > 0
    cache.clear()


def run_manage(*args, **env):
    import os

    full_env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k3J9-vQ2pL8_zR5wX1mN7bT4yH6cF0dG2sA9eU3iO8-q7Wn4Lp0Zx2Vb6Mc",
        ALLOWED_HOSTS="maintenance.example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
        SESSION_COOKIE_SECURE="true",
        CSRF_COOKIE_SECURE="true",
        USE_X_FORWARDED_PROTO="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_outside_development():
    result = run_manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr

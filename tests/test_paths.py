"""Every path, with and without its trailing slash, for every method: never a 500.

Under ``/api/`` an answer that is not the route's own is JSON (404 or 405), also
under ``DEBUG``, whose error pages are HTML, and also for a write to a path missing
its slash, which Django's ``APPEND_SLASH`` would redirect (dropping the body) or,
under ``DEBUG``, refuse with a 500 page.
"""

from __future__ import annotations

import pytest

from conftest import client_for

METHODS = ["get", "head", "options", "post", "put", "patch", "delete"]
WRITES = {"post", "put", "patch", "delete"}
API_PATHS = [
    "/api/v1/",
    "/api/v1/categories/",
    "/api/v1/categories/999999/",
    "/api/v1/items/",
    "/api/v1/items/A-STL-NONE-1/",
    "/api/v1/items/A-STL-NONE-1/adjust-stock/",
    "/api/v1/items/A-STL-NONE-1/movements/",
    "/api/v1/orders/",
    "/api/v1/orders/999999/",
    "/api/v1/orders/999999/items/",
    "/api/v1/orders/999999/items/1/",
    "/api/v1/orders/999999/image/",
    "/api/v1/orders/999999/images/",
    "/api/v1/orders/999999/images/1/",
    "/api/v1/audit/",
    "/api/v1/audit/999999/",
    "/api/v1/no-such-thing/",
    "/api/v1/orders/not-a-number/",
    "/api/",
    "/api/schema/",
]
OTHER_PATHS = ["/health/", "/docs/", "/redoc/", "/admin/", "/admin/login/", "/api-auth/login/", "/no-such-page/"]


def _variants(paths):
    return [variant for path in paths for variant in (path, path.rstrip("/"))]


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("path", _variants(API_PATHS))
def test_api_paths_answer_every_method_without_a_server_error(superuser, debug, path):
    api = client_for(superuser)
    api.raise_request_exception = False
    for method in METHODS:
        response = (
            getattr(api, method)(path, {}, format="json")
            if method in ("post", "put", "patch")
            else (getattr(api, method)(path))
        )
        assert response.status_code < 500, (method, path, response.status_code)
        if method in WRITES:
            assert response.status_code not in (301, 302, 308), (method, path, "a redirect drops a write's body")
        # (The schema's own errors come in the schema's format, as DRF renders them.)
        if response.status_code in (404, 405) and method != "head" and not path.startswith("/api/schema"):
            assert response["Content-Type"].startswith("application/json"), (method, path, response["Content-Type"])
            assert response.json()["code"] in ("not_found", "method_not_allowed")


@pytest.mark.parametrize("path", _variants(OTHER_PATHS))
def test_other_paths_answer_every_method_without_a_server_error(client, superuser, debug, path):
    client.force_login(superuser)
    client.raise_request_exception = False
    for method in METHODS:
        response = getattr(client, method)(path)
        # (The admin's own catch-all view still redirects to the slashed path; that is no error.)
        assert response.status_code < 500, (method, path, response.status_code)


def test_a_write_to_the_api_root_without_its_slash_is_a_json_405(api, settings):
    settings.DEBUG = True
    response = api.patch("/api/v1", {"x": 1}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_write_to_a_path_no_route_takes_is_a_json_404(api, settings):
    settings.DEBUG = True
    response = api.post("/api/v1/no-such-thing", {"x": 1}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "request_id": response["X-Request-ID"]}


def test_a_read_of_a_page_missing_its_slash_still_redirects(client):
    response = client.get("/admin")
    assert response.status_code == 301
    assert response["Location"] == "/admin/"

import pytest


@pytest.mark.django_db
def test_health_reports_database_and_storage(client):
    response = client.get("/health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["storage"]["status"] == "ok"
    assert response["X-Request-ID"]
    assert response["Server-Timing"].startswith("app;dur=")


@pytest.mark.django_db
def test_schema_and_docs_pages_render_without_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/orders/" in schema.content
    for url in ("/docs", "/redoc"):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert "//cdn" not in html.lower() and "cdn." not in html.lower()
        assert "/static/drf_spectacular_sidecar/" in html


@pytest.mark.django_db
def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["detail"]

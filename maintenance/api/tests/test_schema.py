"""The schema documents the versions of single objects: ETag on their answers, If-Match and 412 on changes."""

import pytest

pytestmark = pytest.mark.django_db


def test_versioned_objects_document_etag_if_match_and_412(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/v1/categories/{id}", "/api/v1/items/{sku}", "/api/v1/orders/{id}"):
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"], path
        patch = paths[path]["patch"]
        assert "If-Match" in [parameter["name"] for parameter in patch["parameters"]], path
        assert "412" in patch["responses"] and "ETag" in patch["responses"]["200"]["headers"], path
    assert "If-Match" not in [parameter["name"] for parameter in paths["/api/v1/orders"]["post"]["parameters"]]

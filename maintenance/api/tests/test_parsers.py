"""The API's request parsers (maintenance.api.parsers), through the whole stack."""

import pytest

from inventory.models import Category
from orders.models import ServiceOrder


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/categories/", "/api/v1/orders/"])
@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_too_deeply_is_a_parse_error(api, path, depth):
    response = api.generic("POST", path, "[" * depth + "]" * depth, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"] == "JSON parse error - the document is nested too deeply."
    assert body["request_id"] == response["X-Request-ID"]
    assert not Category.objects.exists()
    assert not ServiceOrder.objects.exists()


@pytest.mark.django_db
def test_json_nested_within_the_limit_still_reaches_the_serializer(api):
    response = api.generic("POST", "/api/v1/categories/", "[" * 50 + "]" * 50, content_type="application/json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()

"""The browsable API's forms: a valid example to start from, errors kept on the page, filters in words."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest

from conftest import make_user
from inventory import services as inventory
from maintenance.accounts.roles import TECHNICIANS

pytestmark = pytest.mark.django_db

RAW_CONTENT = re.compile(r'<textarea name="_content"[^>]*>(.*?)</textarea>', re.S)


@pytest.fixture
def clerk(client, roles):
    client.force_login(make_user("clerk", is_staff=True, groups=(TECHNICIANS,)))
    return client


def raw_data(response) -> dict:
    boxes = RAW_CONTENT.findall(response.content.decode())
    assert len(boxes) == 1, boxes
    return json.loads(html.unescape(boxes[0]))


def test_the_order_list_offers_a_valid_order_with_a_fresh_request_id(clerk):
    inventory.create_spare_part(name="Empty", sku="A-STL-M1-1", price=Decimal("1.00"), stock=0)
    part = inventory.create_spare_part(name="Bolt", sku="B-STL-M1-1", price=Decimal("1.00"), stock=5)
    first = clerk.get("/api/v1/orders/", HTTP_ACCEPT="text/html")
    assert first.status_code == 200
    example = raw_data(first)
    assert example["items"] == [{"spare_part_id": part.pk, "quantity": 1}]
    assert example["request_id"] != raw_data(clerk.get("/api/v1/orders/", HTTP_ACCEPT="text/html"))["request_id"]
    assert 'id="post-object-form"' not in first.content.decode()  # no empty HTML form

    placed = clerk.post("/api/v1/orders/", json.dumps(example), content_type="application/json")
    assert placed.status_code == 201, placed.content


def test_a_rejected_order_shows_its_error_and_keeps_the_lines_with_a_new_request_id(clerk):
    part = inventory.create_spare_part(name="Bolt", sku="B-STL-M1-1", price=Decimal("1.00"), stock=5)
    body = {"request_id": "browser-1", "client_name": "Ana", "items": [{"spare_part_id": part.pk, "quantity": 9}]}
    rejected = clerk.post("/api/v1/orders/", json.dumps(body), content_type="application/json", HTTP_ACCEPT="text/html")
    assert rejected.status_code == 409
    page = rejected.content.decode()
    assert "Insufficient stock for &#x27;Bolt&#x27;" in page or "Insufficient stock for 'Bolt'" in page
    kept = raw_data(rejected)
    assert kept["items"] == body["items"] and kept["client_name"] == "Ana"
    assert kept["request_id"].startswith("browser-") and kept["request_id"] != "browser-1"


def test_the_part_list_offers_a_new_part_to_fill_in(clerk, superuser):
    clerk.force_login(superuser)
    example = raw_data(clerk.get("/api/v1/items/", HTTP_ACCEPT="text/html"))
    assert set(example) == {"name", "sku", "price", "stock", "category_id"}


@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/items/", "/api/v1/audit/"])
def test_filter_labels_read_as_words(client, superuser, path):
    client.force_login(superuser)
    page = client.get(path, HTTP_ACCEPT="text/html").content.decode()
    assert "Filters" in page
    assert "[invalid name]" not in page
    labels = re.findall(r'<label for="id_[^"]*">([^<]*)</label>', page)
    assert labels and all(re.fullmatch(r"[A-Z][\w ()]*:?", label) for label in labels), labels

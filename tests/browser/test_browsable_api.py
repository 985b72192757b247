"""A clerk places an order from the browsable API in a real Chromium.

The order list's "Raw data" box starts with a valid order (a fresh request_id, one
line); a refused order shows its error on the page and keeps the lines; the
corrected one is placed; a request_id reused with other lines (the idempotency
layer's JSON 422) is shown on the page too, not lost in a reload.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from conftest import make_user
from inventory.models import SparePart
from maintenance.accounts.roles import TECHNICIANS
from orders.models import ServiceOrder
from tests.browser.test_back_office import log_in

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

RAW = "#post-generic-content-form"


def post_raw(page: Page, body: dict) -> None:
    page.fill(f"{RAW} textarea[name=_content]", json.dumps(body, indent=2))
    page.click(f"{RAW} button[data-method=POST], {RAW} button:has-text('POST')")


def test_a_clerk_posts_an_order_from_the_browsable_api(page: Page, snapshot, live_server_url, roles, network):
    tag = uuid.uuid4().hex[:6].upper()
    part = SparePart.objects.create(name=f"Bolt {tag}", sku=f"BAPI-STL-{tag}-10", price=Decimal("2.50"), stock=5)
    clerk = make_user(f"clerk-{tag.lower()}", is_staff=True, groups=(TECHNICIANS,))
    log_in(page, live_server_url, clerk.username)

    page.goto(f"{live_server_url}/api/v1/orders/")
    box = page.locator(f"{RAW} textarea[name=_content]")
    example = json.loads(box.input_value())
    assert example["request_id"].startswith("browser-")
    assert example["items"] == [{"spare_part_id": part.pk, "quantity": 1}]
    snapshot("browsable-api-order-form")

    # Too many: refused, the error on the page, the lines kept under a fresh request_id.
    post_raw(page, {**example, "client_name": "Ana Gómez", "items": [{"spare_part_id": part.pk, "quantity": 9}]})
    expect(page.locator(".response-info")).to_contain_text("409 Conflict")
    expect(page.locator(".response-info")).to_contain_text("Insufficient stock")
    kept = json.loads(box.input_value())
    assert kept["items"][0]["quantity"] == 9 and kept["client_name"] == "Ana Gómez"
    assert kept["request_id"] != example["request_id"]
    snapshot("browsable-api-order-refused")

    # Corrected and placed.
    placed_body = {**kept, "items": [{"spare_part_id": part.pk, "quantity": 2}]}
    post_raw(page, placed_body)
    expect(page.locator(".response-info")).to_contain_text("201 Created")
    order = ServiceOrder.objects.get(request_id=kept["request_id"])
    assert (order.created_by, order.client_name, str(order.total)) == (clerk, "Ana Gómez", "5.00")
    part.refresh_from_db()
    assert part.stock == 3

    # The same request_id with other lines: the JSON 422 is shown above the form, the form keeps its text.
    page.goto(f"{live_server_url}/api/v1/orders/")
    reused = {**placed_body, "items": [{"spare_part_id": part.pk, "quantity": 1}]}
    post_raw(page, reused)
    answer = page.locator(f"{RAW} .browsable-answer")
    expect(answer).to_contain_text("HTTP 422")
    expect(answer).to_contain_text("already used for a different request")
    assert json.loads(box.input_value()) == reused
    assert page.url == f"{live_server_url}/api/v1/orders/"
    snapshot("browsable-api-reused-request-id")
    assert ServiceOrder.objects.filter(created_by=clerk).count() == 1
    network.assert_stays_local()

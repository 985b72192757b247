"""The clerk's screens of issue 21 in a real Chromium, each with a screenshot in test-results/browser/.

Two tabs editing one part, receiving a delivery, a completed order shown read-only,
the audit list searched by a field, and a CSV file with errors in two rows.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from conftest import make_user
from inventory.models import SparePart, StockMovement
from orders import services as orders
from tests.browser.conftest import RESULTS_DIR
from tests.browser.test_back_office import log_in, save

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def parts(tag: str, count: int, **values) -> list[SparePart]:
    return [
        SparePart.objects.create(
            name=f"Part {n} {tag}", sku=f"CLRK-STL-{tag}{n}-10", price=Decimal("8.25"), stock=10, **values
        )
        for n in range(count)
    ]


def test_a_clerks_day_in_the_back_office(page: Page, snapshot, live_server_url, tmp_path):
    base = live_server_url
    tag = uuid.uuid4().hex[:6].upper()
    clerk = make_user(f"clerk-{tag.lower()}", is_staff=True, is_superuser=True)
    bolt, nut, washer = parts(tag, 3)
    log_in(page, base, clerk.username)

    # 1. Two tabs on one part: A changes the price; B, opened before, changes the price too and is refused.
    url = f"{base}/admin/inventory/sparepart/{bolt.pk}/change/"
    tab_b = page.context.new_page()
    tab_b.goto(url)
    page.goto(url)
    page.fill("#id_price", "8.40")
    save(page)
    tab_b.fill("#id_price", "9.00")
    save(tab_b)
    expect(tab_b.locator(".field-price .errorlist")).to_contain_text("it is now “8.40”")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    tab_b.screenshot(path=str(RESULTS_DIR / "clerk-1-stale-edit-refused.png"), full_page=True)
    bolt.refresh_from_db()
    assert bolt.price == Decimal("8.40")
    tab_b.close()

    # 2. A delivery of three parts with reasons.
    page.goto(f"{base}/admin/inventory/sparepart/")
    page.click("text=Receive or adjust stock")
    for index, (part, quantity, reason) in enumerate(
        ((bolt, "30", "receipt"), (nut, "2", "damaged"), (washer, "4", "count"))
    ):
        page.fill(f"#id_lines-{index}-sku", part.sku)
        page.fill(f"#id_lines-{index}-quantity", quantity)
        page.select_option(f"#id_lines-{index}-reason", reason)
    page.fill("#id_note", f"Delivery {tag}")
    snapshot("clerk-2-receiving-a-delivery")
    save(page)
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Recorded 3 stock movement(s)")
    moved = StockMovement.objects.filter(note=f"Delivery {tag}").order_by("spare_part_id")
    assert [(m.spare_part_id, m.delta, m.reason) for m in moved] == [
        (bolt.pk, 30, "receipt"),
        (nut.pk, -2, "damaged"),
        (washer.pk, -6, "count"),
    ]

    # 3. A completed order is a record: shown read-only, nothing to tick or save.
    order = orders.place_order(request_id=f"done-{tag}", items=[{"spare_part_id": bolt.pk, "quantity": 1}]).order
    orders.change_status(order.pk, "in_progress")
    orders.change_status(order.pk, "completed")
    page.goto(f"{base}/admin/orders/serviceorder/{order.pk}/change/")
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.locator("input[type=checkbox][name$=-DELETE]")).to_have_count(0)
    snapshot("clerk-3-completed-order-read-only")

    # 4. The audit list, searched by a field's label.
    page.goto(f"{base}/admin/audit/auditor/?q=price")
    expect(page.locator("#result_list")).to_contain_text("8.25 → 8.40")
    snapshot("clerk-4-audit-search-by-field")

    # 5. A CSV file with three errors in two rows: all shown at once, by spreadsheet line.
    csv = tmp_path / "parts.csv"
    csv.write_text(
        "sku,name,category,price,stock,min_stock\n"
        f"CLRK-STL-{tag}9-10,Good,,1.00,1,0\n"
        "A-STL-M10,,,abc,1,0\n"
        f"CLRK-STL-{tag}8-10,Negative,,1.00,-5,0\n"
    )
    page.goto(f"{base}/admin/inventory/sparepart/import/")
    page.set_input_files("#id_import_file", str(csv))
    if page.locator("#id_format option").count() > 1:  # a format to choose (only CSV is offered)
        page.select_option("#id_format", label="csv")
    page.click("input[type=submit]")
    errors = page.locator("table.import-errors")
    expect(errors).to_contain_text("A name is required.")
    expect(errors).to_contain_text("Invalid SKU format")
    expect(errors).to_contain_text("not a number")
    expect(errors).to_contain_text("zero or more")
    expect(errors.locator("tbody tr td:first-child")).to_have_text(["3", "4"])
    snapshot("clerk-5-csv-errors-all-at-once")

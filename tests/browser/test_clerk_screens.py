"""The clerk's screens of issue 21 in a real Chromium, each with a screenshot in test-results/browser/.

Two tabs editing one part, receiving a delivery, a completed order shown read-only,
the audit list searched by a field, and a CSV file with errors in two rows; the back-office
in Spanish; an order's lines on a phone.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import translation
from playwright.sync_api import Page, expect

from conftest import make_user
from inventory.models import SparePart, StockMovement
from orders import services as orders
from orders.models import ServiceOrder
from tests.browser.conftest import RESULTS_DIR
from tests.browser.test_back_office import log_in, pick_in_autocomplete, picker_label, save

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
    expect(page.locator("ul.messagelist li.success")).to_have_text("Recorded 3 stock movements in the ledger.")
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


def test_the_back_office_in_spanish(page: Page, snapshot, live_server_url):
    """A browser that asks for Spanish gets the dashboard and the order form in Spanish, an
    oversell refused in Spanish on its line; the header's language menu switches back."""
    base = live_server_url
    tag = uuid.uuid4().hex[:6].upper()
    clerk = make_user(f"es-{tag.lower()}", is_staff=True, is_superuser=True)
    bolt, nut = parts(tag, 2)
    SparePart.objects.filter(pk=nut.pk).update(stock=2, min_stock=5)  # low on stock: on the dashboard
    # As a browser set to Spanish sends it (the module's Chromium runs in en-US, which
    # Chromium's own Accept-Language would override extra headers with).
    page.route(
        f"{base}/**",
        lambda route: route.continue_(headers={**route.request.headers, "accept-language": "es-CO,es;q=0.9"}),
    )
    log_in(page, base, clerk.username)

    # The dashboard: its own words and the admin's, in Spanish.
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#workshop-dashboard")).to_contain_text("Órdenes por estado")
    expect(page.locator("#dashboard-low-stock")).to_contain_text("en el nivel de reorden o por debajo")
    expect(page.locator("#dashboard-low-stock thead")).to_have_text("SKURepuestoExistenciasNivel de reorden")
    expect(page.locator("#content h1")).to_have_text("Panel del taller")
    expect(page.locator("#nav-sidebar, #content-main").first).to_contain_text("Órdenes de servicio")
    expect(page.locator("#user-tools")).to_contain_text("Cerrar sesión")
    snapshot("clerk-6-dashboard-in-spanish")

    # Order entry: an oversell refused in Spanish, on the line that asks too much; no order written.
    orders_before = ServiceOrder.objects.count()
    page.goto(f"{base}/admin/orders/serviceorder/add/")
    expect(page.locator("label[for=id_client_name]")).to_have_text("Nombre del cliente:")
    page.fill("#id_client_name", f"Cliente {tag}")
    with translation.override("es"):  # the picker labels parts in the page's language
        bolt_label, nut_label = picker_label(bolt), picker_label(nut)
    assert "en existencias" in nut_label
    pick_in_autocomplete(page, "id_items-0-spare_part", "Part 0", bolt_label)
    page.fill("#id_items-0-quantity", "1")
    pick_in_autocomplete(page, "id_items-1-spare_part", "Part 1", nut_label)
    page.fill("#id_items-1-quantity", "5")
    expect(page.locator("#live-total")).to_have_text("Líneas nuevas: 49.50 · total de la orden al guardar: 49.50")
    save(page)
    expect(page).to_have_url(f"{base}/admin/orders/serviceorder/add/")
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator("#items-1 ul.errorlist")).to_have_text(
        f"Solo hay 2 de {nut.sku} en existencias; las líneas de la orden piden 5."
    )
    expect(page.locator("#items-0 ul.errorlist")).to_have_count(0)
    assert ServiceOrder.objects.count() == orders_before
    snapshot("clerk-7-order-entry-in-spanish")

    # The language menu in the header wins over the browser's language.
    page.select_option("#language-switch-select", "en")
    page.click("#language-switch button")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("label[for=id_client_name]")).to_have_text("Client name:")


def test_an_orders_lines_fit_a_phone(page: Page, live_server_url):
    """At 390 x 844 an open order's lines stack: each line's part, quantity and "delete" tick box are on
    screen without scrolling sideways, and so is the quantity of a line to add."""
    base = live_server_url
    tag = uuid.uuid4().hex[:6].upper()
    clerk = make_user(f"phone-order-{tag.lower()}", is_staff=True, is_superuser=True)
    bolt, nut = parts(tag, 2)
    SparePart.objects.filter(pk=bolt.pk).update(name=f"Double-acting hydraulic cylinder seal kit, long {tag}")
    order = orders.place_order(
        request_id=f"phone-{tag}",
        items=[{"spare_part_id": bolt.pk, "quantity": 2}, {"spare_part_id": nut.pk, "quantity": 1}],
    ).order
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, base, clerk.username)
    page.goto(f"{base}/admin/orders/serviceorder/{order.pk}/change/")
    lines = page.locator("#items-group tbody tr.has_original")
    expect(lines).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    width = page.viewport_size["width"]

    def on_screen(locator) -> dict:
        box = locator.bounding_box()
        assert box is not None and box["width"] > 0, locator
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (locator, box)
        return box

    for index in range(2):
        line = lines.nth(index)
        part, quantity = on_screen(line.locator("td.field-spare_part")), on_screen(line.locator("td.field-quantity"))
        remove = on_screen(line.locator("input[type=checkbox][name$=-DELETE]"))
        # Stacked: one cell under the other, not side by side in a table wider than the screen.
        assert part["y"] < quantity["y"] < remove["y"]
    expect(lines.nth(0).locator("td.field-quantity")).to_have_text("2")
    # The line to add: its quantity on screen too; the hidden template row for "Add another" stays hidden.
    new_lines = page.locator(".inline-group tr.form-row:not(.has_original):not(.empty-form)")
    expect(new_lines).to_have_count(1)
    on_screen(new_lines.locator("input[name$=-quantity]"))
    expect(page.locator(".inline-group tr.empty-form").first).to_be_hidden()
    lines.nth(1).locator("input[type=checkbox][name$=-DELETE]").check()
    # The screen as the clerk sees it at the lines (the snapshot helper would scroll back to the top).
    page.locator("#items-group").evaluate("group => group.scrollIntoView()")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS_DIR / "clerk-8-order-lines-on-a-phone.png"))
    save(page, "_continue")
    expect(page.locator("ul.messagelist li.success")).to_be_visible()
    assert list(order.items.values_list("spare_part_id", "quantity")) == [(bolt.pk, 2)]

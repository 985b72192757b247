"""The inventory admin: lists, saving through the services, the ledger, CSV import/export."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import make_user
from inventory import services
from inventory.models import Category, SparePart, StockMovement
from inventory.tests.factories import CategoryFactory, SparePartFactory
from maintenance.accounts.roles import VIEWERS
from maintenance.audit.models import Auditor
from orders import services as orders

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:inventory_sparepart_changelist")
ADD = reverse("admin:inventory_sparepart_add")


def change_url(part):
    return reverse("admin:inventory_sparepart_change", args=[part.pk])


def part_form(part=None, **overrides):
    """The POST data of the part form, as the page would send it."""
    data = {
        "name": part.name if part else "Hex bolt M10x50",
        "sku": part.sku if part else "A-STL-M10-50",
        "category": part.category_id if part and part.category_id else "",
        "price": str(part.price) if part else "0.45",
        "stock": part.stock if part else 0,
        "min_stock": part.min_stock if part else 0,
        "stock_note": "",
        "stock_seen": part.stock if part else "",
    }
    data.update(overrides)
    return {key: ("" if value is None else value) for key, value in data.items()}


def assert_ledger_consistent():
    for part in SparePart.objects.all():
        total = part.movements.aggregate(total=Sum("delta"))["total"] or 0
        assert part.stock == total, f"{part.sku}: stock {part.stock} != ledger {total}"


# --- lists -------------------------------------------------------------------


def test_changelist_renders_with_constant_queries(staff):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = staff.get(CHANGELIST)
        assert response.status_code == 200
        return len(queries)

    SparePartFactory.create_batch(3)
    few = count_queries()
    SparePartFactory.create_batch(20)
    assert count_queries() == few


def test_changelist_columns_search_and_low_stock_filter(staff):
    low = SparePartFactory(sku="L-STL-M1-1", name="Low bolt", stock=2, min_stock=5, price=Decimal("1234.5"))
    SparePartFactory(sku="H-STL-M1-1", name="High bolt", stock=50, min_stock=5)

    page = staff.get(CHANGELIST).content.decode()
    assert "1,234.50" in page
    assert "Low stock" in page

    filtered = staff.get(CHANGELIST, {"low_stock": "yes"}).content.decode()
    assert low.sku in filtered and "H-STL-M1-1" not in filtered

    found = staff.get(CHANGELIST, {"q": "H-STL"}).content.decode()
    assert "H-STL-M1-1" in found and low.sku not in found


def test_change_add_and_category_pages_render(staff):
    part = SparePartFactory()
    services.adjust_stock(part, delta=-3, note="used on the bench")
    assert staff.get(ADD).status_code == 200
    page = staff.get(change_url(part))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Stock ledger (newest first)" in html
    # Newest first: the adjustment is listed before the opening stock.
    assert html.index("used on the bench") < html.index("Opening stock")
    for name in ("changelist", "add"):
        assert staff.get(reverse(f"admin:inventory_category_{name}")).status_code == 200
    assert staff.get(reverse("admin:inventory_category_change", args=[part.category_id])).status_code == 200
    assert staff.get(reverse("admin:inventory_stockmovement_changelist")).status_code == 200


def test_category_autocomplete_finds_categories(staff):
    CategoryFactory(name="Bearings")
    response = staff.get(
        reverse("admin:autocomplete"),
        {"app_label": "inventory", "model_name": "sparepart", "field_name": "category", "term": "bear"},
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["Bearings"]


# --- saving through the services -----------------------------------------------


def test_creating_a_part_records_its_opening_stock(staff, superuser):
    category = CategoryFactory()
    response = staff.post(
        ADD, part_form(sku="  A-STL-M10-50 ", stock=40, category=category.pk, stock_note="delivery 7")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    part = SparePart.objects.get(sku="A-STL-M10-50")
    assert (part.stock, part.category) == (40, category)
    (movement,) = part.movements.all()
    assert (movement.delta, movement.reason, movement.note, movement.actor) == (
        40,
        StockMovement.Reason.INITIAL,
        "delivery 7",
        superuser,
    )
    assert Auditor.objects.filter(object_id=str(part.pk), action="create", actor=superuser).exists()


def test_editing_stock_records_an_adjustment(staff, superuser):
    part = SparePartFactory(stock=10)
    response = staff.post(change_url(part), part_form(part, stock=7, price="12.50", stock_note="stocktake"))
    assert response.status_code == 302, response.content.decode()[:2000]
    part.refresh_from_db()
    assert (part.stock, part.price) == (7, Decimal("12.50"))
    latest = part.movements.first()
    assert (latest.delta, latest.stock_after, latest.reason, latest.note, latest.actor) == (
        -3,
        7,
        StockMovement.Reason.ADJUSTMENT,
        "stocktake",
        superuser,
    )
    assert_ledger_consistent()


def test_saving_without_touching_stock_keeps_a_concurrent_change(staff):
    part = SparePartFactory(stock=10)
    form = part_form(part, price="11.00")  # the page was opened with stock 10
    services.adjust_stock(part, delta=-4)  # an order took 4 meanwhile
    assert staff.post(change_url(part), form).status_code == 302
    part.refresh_from_db()
    assert (part.stock, part.price) == (6, Decimal("11.00"))
    assert part.movements.count() == 2  # no adjustment putting the 4 back
    assert_ledger_consistent()


def test_a_stock_edit_over_a_concurrent_change_is_refused(staff):
    part = SparePartFactory(stock=10)
    form = part_form(part, stock=12)
    services.adjust_stock(part, delta=-4)
    response = staff.post(change_url(part), form)
    assert response.status_code == 200
    assert "The stock changed from 10 to 6 while you were editing" in response.content.decode()
    part.refresh_from_db()
    assert part.stock == 6 and part.movements.count() == 2


@pytest.mark.parametrize(
    ("sku", "message"),
    [
        ("A-STL-M10", "Invalid SKU format. Expected format: [CLASS]-[MATERIAL]-[SIZE]-[LENGTH], but got"),
        ("B-CHR-20-47", "already exists"),
    ],
)
def test_bad_or_duplicate_sku_is_a_form_error(staff, sku, message):
    SparePartFactory(sku="B-CHR-20-47")
    before = (SparePart.objects.count(), StockMovement.objects.count())
    response = staff.post(ADD, part_form(sku=sku, stock=5))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert (SparePart.objects.count(), StockMovement.objects.count()) == before


def test_negative_values_are_form_errors(staff):
    response = staff.post(ADD, part_form(stock=-1, price="-2"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() >= {"stock", "price"}
    assert not SparePart.objects.exists()


def test_counts_above_the_maximum_are_form_errors(staff):
    part = SparePartFactory(stock=10)
    response = staff.post(change_url(part), part_form(part, stock=2_000_000_001, min_stock=2_000_000_001))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() >= {"stock", "min_stock"}
    part.refresh_from_db()
    assert (part.stock, part.min_stock, part.movements.count()) == (10, 0, 1)


def test_a_service_refusal_is_shown_on_the_form_and_rolled_back(staff, monkeypatch):
    """Whatever the services refuse after the form validated is a form error, never a 500."""
    from maintenance.api.errors import Conflict

    part = SparePartFactory(stock=10)

    def refuse(*args, **kwargs):
        raise Conflict("Refused by a rule the form does not know.", field="price")

    monkeypatch.setattr(services, "update_spare_part", refuse)
    response = staff.post(change_url(part), part_form(part, price="99.00"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["price"] == ["Refused by a rule the form does not know."]
    part.refresh_from_db()
    assert part.price == Decimal("10.00")


def test_deleting_a_part_used_on_an_order_is_refused_clearly(staff):
    part = SparePartFactory(stock=10)
    orders.place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 1}])
    url = reverse("admin:inventory_sparepart_delete", args=[part.pk])
    response = staff.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "Cannot delete" in response.content.decode()
    assert SparePart.objects.filter(pk=part.pk).exists()


def test_deleting_a_part_goes_through_the_service(staff, monkeypatch):
    part = SparePartFactory()
    called = []
    real = services.delete_spare_part
    monkeypatch.setattr(services, "delete_spare_part", lambda obj: called.append(obj.pk) or real(obj))
    response = staff.post(reverse("admin:inventory_sparepart_delete", args=[part.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert called == [part.pk]
    assert not SparePart.objects.filter(pk=part.pk).exists()


def test_category_create_duplicate_and_delete(staff):
    add = reverse("admin:inventory_category_add")
    assert staff.post(add, {"name": "Seals", "description": "O-rings"}).status_code == 302
    duplicate = staff.post(add, {"name": "SEALS", "description": ""})
    assert duplicate.status_code == 200
    assert "already exists" in duplicate.content.decode()
    category = Category.objects.get(name="Seals")
    part = SparePartFactory(category=category)
    response = staff.post(reverse("admin:inventory_category_delete", args=[category.pk]), {"post": "yes"})
    assert response.status_code == 302
    part.refresh_from_db()
    assert part.category is None
    # delete_category audits the SET_NULL that signals do not see.
    assert Auditor.objects.filter(object_id=str(part.pk), changes__category_id=[category.pk, None]).exists()


def test_viewers_can_look_but_not_import(client):
    viewer = make_user(groups=(VIEWERS,), is_staff=True)
    client.force_login(viewer)
    SparePartFactory()
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(reverse("admin:inventory_sparepart_import")).status_code == 403
    assert client.get(ADD).status_code == 403


# --- CSV import / export -------------------------------------------------------


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("parts.csv", text.encode(), content_type="text/csv")


def preview(client, text: str):
    return client.post(
        reverse("admin:inventory_sparepart_import"),
        {"import_file": csv_file(text), "format": "0", "resource": ""},
    )


def test_import_preview_writes_nothing_and_confirm_writes_through_services(staff, superuser):
    CategoryFactory(name="Bearings")
    existing = SparePartFactory(sku="B-CHR-25-52", name="Bearing 6205", stock=10)
    text = (
        "sku,name,category,price,stock,min_stock\n"
        "B-CHR-20-47,Deep groove ball bearing 6204,bearings,3.90,60,10\n"
        " B-CHR-25-52 ,Bearing 6205-2RS,Bearings,4.40,45,10\n"
        "O-NBR-20-2,O-ring 20x2,,0.25,0,50\n"
    )
    before = (SparePart.objects.count(), StockMovement.objects.count(), Auditor.objects.count())

    response = preview(staff, text)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["new", "update", "new"]
    assert "confirm_form" in response.context
    assert (SparePart.objects.count(), StockMovement.objects.count(), Auditor.objects.count()) == before

    confirm = staff.post(reverse("admin:inventory_sparepart_process_import"), response.context["confirm_form"].initial)
    assert confirm.status_code == 302

    bearing = SparePart.objects.get(sku="B-CHR-20-47")
    assert (bearing.name, bearing.category.name, bearing.price, bearing.stock, bearing.min_stock) == (
        "Deep groove ball bearing 6204",
        "Bearings",
        Decimal("3.90"),
        60,
        10,
    )
    (movement,) = bearing.movements.all()
    assert (movement.delta, movement.reason, movement.actor) == (60, StockMovement.Reason.IMPORT, superuser)
    existing.refresh_from_db()
    assert (existing.name, existing.stock) == ("Bearing 6205-2RS", 45)
    assert existing.movements.first().delta == 35 and existing.movements.first().reason == "import"
    oring = SparePart.objects.get(sku="O-NBR-20-2")
    assert oring.stock == 0 and not oring.movements.exists() and oring.category is None
    assert_ledger_consistent()


def test_import_reports_errors_per_row_and_offers_no_confirmation(staff):
    text = (
        "sku,name,category,price,stock,min_stock\n"
        "A-STL-M10,Bad SKU,,1.00,1,0\n"
        "A-STL-M12-60,Unknown category,Nope,1.00,1,0\n"
        "A-STL-M8-30,Negative stock,,1.00,-5,0\n"
        "A-STL-M6-20,Bad price,,abc,1,0\n"
        "A-STL-M6-25,Too many,,1.00,2000000001,0\n"
        "A-STL-M6-30,Good row,,1.00,1,0\n"
    )
    response = preview(staff, text)
    assert response.status_code == 200
    result = response.context["result"]
    invalid = {row.number: row.error.message_dict for row in result.invalid_rows}
    assert set(invalid) == {1, 2, 3, 4, 5}
    assert "Invalid SKU format" in invalid[1]["sku"][0]
    assert "Category 'Nope' does not exist" in invalid[2]["category"][0]
    assert "zero or more" in invalid[3]["stock"][0]
    assert "not a number" in invalid[4]["price"][0]
    assert "Must be at most 2000000000" in invalid[5]["stock"][0]
    assert "confirm_form" not in response.context
    assert not SparePart.objects.exists() and not StockMovement.objects.exists()


def test_every_error_of_every_row_is_shown_at_once_on_its_spreadsheet_line(staff):
    text = (
        "sku,name,category,price,stock,min_stock\n"
        "A-STL-M6-30,Good row,,1.00,1,0\n"
        "A-STL-M10,,,abc,1,0\n"  # line 3: bad SKU, no name, bad price, all in one upload
        "A-STL-M8-30,Negative stock,Nope,1.00,-5,0\n"  # line 4: unknown category and negative stock
    )
    response = preview(staff, text)
    invalid = {row.number: row.error.message_dict for row in response.context["result"].invalid_rows}
    assert set(invalid[2]) == {"sku", "name", "price"} and set(invalid[3]) == {"category", "stock"}
    html = response.content.decode()
    table = html[html.index("Spreadsheet line") :]
    # Visible on the page (no tooltip), numbered as the spreadsheet numbers its lines.
    assert "<td>3</td>" in table and "<td>4</td>" in table and "<td>2</td>" not in table
    for message in ("Invalid SKU format", "A name is required.", "not a number", "does not exist", "zero or more"):
        assert message in table, message
    assert 'class="validation-error-container"' not in html


def test_unchanged_rows_are_skipped(staff):
    SparePartFactory(sku="A-STL-M10-50", name="Bolt", price=Decimal("0.45"), stock=5, min_stock=0, category=None)
    response = preview(staff, "sku,name,price,stock\nA-STL-M10-50,Bolt,0.45,5\n")
    assert [row.import_type for row in response.context["result"].rows] == ["skip"]


def test_export_csv(staff):
    SparePartFactory(sku="A-STL-M10-50", name="Bolt", price=Decimal("0.45"), stock=5, category__name="Fasteners")
    columns = ("sku", "name", "category", "price", "stock", "min_stock")
    form = {"format": "0", "resource": "", **{f"sparepartresource_{column}": "on" for column in columns}}
    response = staff.post(reverse("admin:inventory_sparepart_export"), form)
    assert response.status_code == 200, response.content.decode()[:500]
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].lstrip("\ufeff") == "sku,name,category,price,stock,min_stock"
    assert lines[1] == "A-STL-M10-50,Bolt,Fasteners,0.45,5,0"


# --- history ---------------------------------------------------------------------


def test_history_view_shows_old_and_new_values(staff, superuser):
    part = SparePartFactory(price=Decimal("10.00"), stock=10)
    staff.post(change_url(part), part_form(part, price="12.50", stock=8))
    response = staff.get(reverse("admin:inventory_sparepart_history", args=[part.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="audit-old">10.00</span> → <span class="audit-new">12.50</span>' in html
    assert '<span class="audit-old">10</span> → <span class="audit-new">8</span>' in html
    assert superuser.username in html


# --- two tabs: an edit opened earlier never undoes another save -----------------------------------


def opened_form(client, url) -> dict:
    """A change page's form as the browser posts it untouched: each field's value and the value it
    was opened with (the hidden initial inputs)."""
    form = client.get(url).context["adminform"].form
    data = {}
    for bound in form:
        value = bound.value()
        data[bound.html_name] = "" if value is None else value
        if bound.field.show_hidden_initial:
            data[bound.html_initial_name] = data[bound.html_name]
    return data


def test_a_tab_opened_earlier_does_not_revert_a_price_it_did_not_touch(staff):
    part = SparePartFactory(stock=10, price=Decimal("8.25"))
    tab_a, tab_b = opened_form(staff, change_url(part)), opened_form(staff, change_url(part))
    assert staff.post(change_url(part), {**tab_a, "price": "8.40"}).status_code == 302
    response = staff.post(change_url(part), {**tab_b, "stock": 12})  # B changes only the stock
    assert response.status_code == 302, response.content.decode()[:2000]
    part.refresh_from_db()
    assert (part.price, part.stock) == (Decimal("8.40"), 12)
    assert not Auditor.objects.filter(object_id=str(part.pk), changes__price=["8.40", "8.25"]).exists()


def test_a_stale_edit_of_the_same_field_is_refused_naming_the_current_value(staff):
    category, other = CategoryFactory(name="Valves"), CategoryFactory(name="Taps")
    part = SparePartFactory(price=Decimal("8.25"), category=category, name="Gate valve")
    tab_a, tab_b = opened_form(staff, change_url(part)), opened_form(staff, change_url(part))
    assert staff.post(change_url(part), {**tab_a, "price": "8.40", "category": ""}).status_code == 302
    response = staff.post(change_url(part), {**tab_b, "price": "9.00", "category": other.pk, "name": "Gate"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "it is now “8.40”" in errors["price"][0]
    assert "it is now empty" in errors["category"][0]
    assert "name" not in errors
    part.refresh_from_db()
    assert (part.price, part.category_id, part.name) == (Decimal("8.40"), None, "Gate valve")
    # The page now starts from the current values: saving again is a decision, and it goes through.
    again = response.context["adminform"].form.data
    assert staff.post(change_url(part), again).status_code == 302
    part.refresh_from_db()
    assert (part.price, part.category_id, part.name) == (Decimal("9.00"), other.pk, "Gate")


def test_a_stale_category_rename_is_refused_and_a_description_edit_kept_apart(staff):
    category = CategoryFactory(name="Valves", description="")
    url = reverse("admin:inventory_category_change", args=[category.pk])
    tab_a, tab_b = opened_form(staff, url), opened_form(staff, url)
    assert staff.post(url, {**tab_a, "name": "Valves & taps"}).status_code == 302
    assert staff.post(url, {**tab_b, "description": "Brass"}).status_code == 302
    category.refresh_from_db()
    assert (category.name, category.description) == ("Valves & taps", "Brass")
    response = staff.post(url, {**tab_b, "name": "Valve"})
    assert response.status_code == 200 and "it is now “Valves &amp; taps”" in response.content.decode()


# --- receiving a delivery ---------------------------------------------------------------------------

RECEIVE = reverse("admin:inventory_receive_stock")


def receive_form(*lines, note=""):
    """The page's POST: the given lines, then two untouched extra lines as a browser sends them."""
    lines = [*lines, ("", "", "receipt"), ("", "", "receipt")]
    data = {
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "200",
        "note": note,
    }
    for index, (sku, quantity, reason) in enumerate(lines):
        data.update({f"lines-{index}-sku": sku, f"lines-{index}-quantity": quantity, f"lines-{index}-reason": reason})
    return data


def test_receiving_a_delivery_of_three_parts_writes_one_movement_each(staff, superuser):
    bolt, nut, washer = (SparePartFactory(sku=f"A-STL-M{n}-10", stock=10) for n in (6, 8, 10))
    page = staff.get(RECEIVE)
    assert page.status_code == 200 and "Record in the ledger" in page.content.decode()
    assert RECEIVE in staff.get(CHANGELIST).content.decode()  # the button on the parts list
    assert f"{RECEIVE}?sku={bolt.sku}" in staff.get(change_url(bolt)).content.decode()  # and on a part's page
    assert staff.get(f"{RECEIVE}?sku={bolt.sku}").context["lines"].forms[0].initial == {"sku": bolt.sku}
    response = staff.post(
        RECEIVE,
        receive_form(
            (bolt.sku, 30, "receipt"), (" A-STL-M8-10 ", 2, "damaged"), (washer.sku, 4, "count"), note="Delivery 4711"
        ),
    )
    assert response.status_code == 302, (response.context["lines"].errors, response.context["form"].errors)
    for part, stock, reason, delta in ((bolt, 40, "receipt", 30), (nut, 8, "damaged", -2), (washer, 4, "count", -6)):
        part.refresh_from_db()
        movement = part.movements.first()
        assert (part.stock, movement.reason, movement.delta, movement.note, movement.actor) == (
            stock,
            reason,
            delta,
            "Delivery 4711",
            superuser,
        )
    assert_ledger_consistent()


def test_a_refused_line_is_shown_on_its_line_and_nothing_is_recorded(staff):
    bolt, nut = SparePartFactory(sku="A-STL-M6-10", stock=10), SparePartFactory(sku="A-STL-M8-10", stock=1)
    response = staff.post(RECEIVE, receive_form((bolt.sku, 5, "receipt"), (nut.sku, 3, "damaged")))
    assert response.status_code == 200
    lines = response.context["lines"]
    assert "Insufficient stock" in lines.forms[1].errors["quantity"][0]
    unknown = staff.post(RECEIVE, receive_form((bolt.sku, 5, "receipt"), ("Z-NOPE-1-1", 1, "receipt")))
    assert "No spare part has the SKU" in unknown.context["lines"].forms[1].errors["sku"][0]
    bolt.refresh_from_db(), nut.refresh_from_db()
    assert (bolt.stock, nut.stock, StockMovement.objects.filter(reason__in=["receipt", "damaged"]).count()) == (
        10,
        1,
        0,
    )


def test_receiving_needs_the_ledger_permission(client):
    viewer = make_user(groups=(VIEWERS,), is_staff=True)
    client.force_login(viewer)
    assert client.get(RECEIVE).status_code == 403


def test_staff_can_rename_a_sku_in_the_admin_with_a_warning_and_an_audit_entry(staff):
    part = SparePartFactory(sku="A-STL-M10-50")
    response = staff.post(change_url(part), part_form(part, sku="A-STL-M10-55"), follow=True)
    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert any("The SKU changed from A-STL-M10-50 to A-STL-M10-55" in message for message in shown), shown
    part.refresh_from_db()
    assert part.sku == "A-STL-M10-55"
    entry = Auditor.objects.filter(object_id=str(part.pk), action=Auditor.Action.UPDATE).latest("id")
    assert entry.changes["sku"] == ["A-STL-M10-50", "A-STL-M10-55"]


def test_an_import_previewed_on_one_server_is_confirmed_on_another(staff):
    """Issue 23: the file between preview and confirmation was on one server's disk (a temporary
    folder). It is in the object store now, which every app server reads."""
    from django.core.files.storage import StorageHandler

    bucket = StorageHandler()["default"]  # as import-export makes it: the bucket's root
    response = preview(staff, "sku,name,category,price,stock,min_stock\nB-CHR-20-47,Bearing 6204,,3.90,6,1\n")
    initial = response.context["confirm_form"].initial
    stored = f"django-import-export/{initial['import_file_name']}"
    assert bucket.exists(stored)
    confirm = staff.post(reverse("admin:inventory_sparepart_process_import"), initial)
    assert confirm.status_code == 302
    assert SparePart.objects.get(sku="B-CHR-20-47").stock == 6
    assert not bucket.exists(stored)  # removed once imported


def test_a_tampered_import_file_name_reads_nothing(staff):
    response = preview(staff, "sku,name,category,price,stock,min_stock\nB-CHR-20-47,Bearing 6204,,3.90,6,1\n")
    initial = {**response.context["confirm_form"].initial, "import_file_name": "../orders/1/photo.jpg"}
    refused = staff.post(reverse("admin:inventory_sparepart_process_import"), initial)
    assert refused.status_code == 400
    assert not SparePart.objects.filter(sku="B-CHR-20-47").exists()

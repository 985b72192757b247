"""Request parsers: DRF's, with the one failure its JSON parser lets through."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NESTED_TOO_DEEPLY = "JSON parse error - the document is nested too deeply."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 for a document nested deeper than Python's recursion limit.

    ``json.load`` raises ``RecursionError`` there (``[[[[…]]]]`` a thousand deep is enough),
    and DRF catches only ``ValueError``: a 500 from a few kilobytes of brackets.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEPLY)

"""DRF's JSON renderer, on orjson.

Every API answer is rendered as JSON; DRF does it with the standard library's
``json.dumps`` and its encoder class, a sizeable part of a catalogue page's
cost. orjson writes the same compact, UTF-8 output several times faster. What
orjson does not know natively (lazy translation strings, decimals, dates) goes
to DRF's own encoder, so values render as they did. Indented output (the
browsable API, ``; indent=4``) and anything orjson refuses (an integer beyond 64
bits) fall back to DRF's renderer.
"""

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_default = JSONEncoder().default
# DRF escapes these two so that its JSON is also valid JavaScript; so do we.
_LINE_SEPARATOR, _PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is None:
            try:
                rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
            except orjson.JSONEncodeError:
                pass
            else:
                if _LINE_SEPARATOR in rendered or _PARAGRAPH_SEPARATOR in rendered:
                    rendered = rendered.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
                return rendered
        return super().render(data, accepted_media_type, renderer_context)

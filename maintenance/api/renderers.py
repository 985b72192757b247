"""DRF's browsable API, with write forms a clerk can use.

DRF fills the "Raw data" box from the view's serializer: for the order and part
lists that is the read serializer, so the box started as ``{}``, and the "HTML
form" tab had no fields (nested order lines have no HTML form anyway). A view
that defines ``browsable_api_example(method)`` gets its example in the box
instead (for an order: a fresh ``request_id`` and one line) and no empty HTML
form. After a rejected write the box keeps what was posted, with a fresh
``request_id``: the rejected one is spent (its answer is replayed to it).

Answers that are not HTML (the idempotency layer's JSON 422 and 409) are shown
on the page by ``maintenance/static/maintenance/browsable-api.js``.
"""

from __future__ import annotations

import json

from rest_framework import renderers
from rest_framework.exceptions import APIException


def _example(view, method: str) -> dict | None:
    example = getattr(view, "browsable_api_example", None)
    return example(method) if example else None


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    def get_rendered_html_form(self, data, view, method, request):
        if _example(view, method) is not None:
            return None  # the raw data box is the form
        return super().get_rendered_html_form(data, view, method, request)

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        example = _example(view, method)
        if form is None or example is None:
            return form
        response = self.renderer_context.get("response")
        if request.method == method and response is not None and response.status_code >= 400:
            try:
                posted = request.data
            except APIException:
                posted = None
            if isinstance(posted, dict) and posted:
                example = {**posted, **({"request_id": example["request_id"]} if "request_id" in example else {})}
        form.fields["_content"].initial = json.dumps(example, indent=4, ensure_ascii=False)
        return form

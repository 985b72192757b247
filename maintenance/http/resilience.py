"""Refuse oversized API requests before anything reads their body.

Django limits only what it keeps in memory: ``DATA_UPLOAD_MAX_MEMORY_SIZE``
guards ``request.body`` and form fields, but a multipart file of any size is
streamed to a temporary file first, and DRF parses multipart on every endpoint.
So a 2 GB upload to any API path would fill the disk before a view could say no.
This middleware answers 413 from the ``Content-Length`` header alone, naming the
limit, and never touches the body.

A chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) reaches a
WSGI application as an empty one: Django reads ``CONTENT_LENGTH`` bytes. A write
sent that way would be refused for missing fields it did send, or worse, act
without them; it gets 411 Length Required instead.
"""

from __future__ import annotations

from django.conf import settings

from maintenance.http.responses import json_error

# Multipart framing around an image: an upload may exceed the image limit by this much.
MULTIPART_OVERHEAD = 64 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_limit(content_type: str) -> tuple[int, str]:
    """The largest body accepted for ``content_type``, and a sentence naming the limit."""
    if content_type.startswith("multipart/form-data"):
        image_limit = settings.MAX_IMAGE_UPLOAD_BYTES
        return (
            image_limit + MULTIPART_OVERHEAD,
            f"{image_limit} bytes for the file (MAX_IMAGE_UPLOAD_BYTES) plus {MULTIPART_OVERHEAD} bytes of form data",
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit, f"{limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"


class RequestSizeLimitMiddleware:
    """413 for an API request whose declared body is larger than its limit; 411 for a write without a length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            if (
                request.method in WRITE_METHODS
                and "CONTENT_LENGTH" not in request.META
                and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
            ):
                return json_error(
                    411,
                    "Send the request body with a Content-Length header: chunked request bodies are not read.",
                    "length_required",
                )
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit, described = body_limit(request.META.get("CONTENT_TYPE", ""))
            if length > limit:
                return json_error(
                    413,
                    f"The request body ({length} bytes) is larger than the limit of {described}.",
                    "request_too_large",
                    limit_bytes=limit,
                )
        return self.get_response(request)

"""Request timing: the seed's ``@measure_time`` decorator and a per-request log line.

The middleware gives every request an id (the client's ``X-Request-ID`` when it
sends a sane one), logs one structured line per request and returns the id and
the duration as ``X-Request-ID`` and ``Server-Timing`` headers.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

logger = logging.getLogger("maintenance.http.timing")
request_logger = logging.getLogger("maintenance.requests")

F = TypeVar("F", bound=Callable[..., Any])

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def loggable(text: str) -> str:
    """``text`` for one log line: control characters (a decoded %0a, a CR, an escape) written as
    ``\\xNN``, so a request cannot start a line of its own in the log (log forging)."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class RequestTimeout(Exception):
    """The request outlived gunicorn's ``timeout``: raised into it by ``worker_abort`` (gunicorn.conf.py).

    The request's transaction rolls back as the exception unwinds it, the API answers a
    JSON 504 (``maintenance.api.exceptions``), and gunicorn then replaces the worker.
    """


_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def measure_time(func: F) -> F:
    """Log how long ``func`` took, in milliseconds, under its qualified name."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info("%s took %.2f ms", func.__qualname__, elapsed_ms)

    return wrapper  # type: ignore[return-value]


def new_request_id(incoming: str | None) -> str:
    if incoming and _REQUEST_ID_RE.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestTimingMiddleware:
    """Outermost middleware: request id, duration, one log line per request."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request_id = new_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        duration_ms = (time.perf_counter() - started) * 1000
        response["X-Request-ID"] = request_id
        response["Server-Timing"] = f"app;dur={duration_ms:.1f}"
        request_logger.info(
            "method=%s path=%s status=%s duration_ms=%.1f request_id=%s",
            loggable(request.method),
            loggable(request.path),
            response.status_code,
            duration_ms,
            request_id,
        )
        return response

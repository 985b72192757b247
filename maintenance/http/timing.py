"""Request timing: the seed's ``@measure_time`` decorator and a per-request log line.

The middleware gives every request an id of the server's own, logs one structured
line per request and returns the id and the duration as ``X-Request-ID`` and
``Server-Timing`` headers. A client's own ``X-Request-ID`` (when sane) is kept
beside it — logged, stored in the audit trail as ``client_request_id`` and
echoed as ``X-Client-Request-ID`` — but never taken for the server's: a client
could otherwise write any id, or another request's, into the audit trail.
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
current_client_request_id: ContextVar[str] = ContextVar("current_client_request_id", default="")


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


def client_request_id(incoming: str | None) -> str:
    """The client's ``X-Request-ID`` if it is a sane one (64 safe characters at most), else ``""``."""
    return incoming if incoming and _REQUEST_ID_RE.match(incoming) else ""


class RequestTimingMiddleware:
    """Outermost middleware: request id, duration, one log line per request."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id = uuid.uuid4().hex
        request.client_request_id = client_id = client_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        token, client_token = current_request_id.set(request_id), current_client_request_id.set(client_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
            current_client_request_id.reset(client_token)
        duration_ms = (time.perf_counter() - started) * 1000
        response["X-Request-ID"] = request_id
        if client_id:
            response["X-Client-Request-ID"] = client_id
        response["Server-Timing"] = f"app;dur={duration_ms:.1f}"
        request_logger.info(
            "method=%s path=%s status=%s duration_ms=%.1f request_id=%s client_request_id=%s",
            loggable(request.method),
            loggable(request.path),
            response.status_code,
            duration_ms,
            request_id,
            client_id or "-",
        )
        return response

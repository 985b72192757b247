"""Business errors raised by the service functions.

Services raise these; the API's exception handler turns them into responses and
the admin turns them into form errors, so each rule's message is written once.
"""

from __future__ import annotations


class BusinessError(Exception):
    """A rule refused the operation. ``status_code`` is the HTTP answer for the API."""

    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code
        self.extra = extra or {}


class InvalidInput(BusinessError):
    status_code = 400
    default_code = "invalid"


class NotFound(BusinessError):
    status_code = 404
    default_code = "not_found"


class Conflict(BusinessError):
    status_code = 409
    default_code = "conflict"


class PreconditionFailed(BusinessError):
    """The object changed since the version the client named (``If-Match``): nothing was written."""

    status_code = 412
    default_code = "stale_version"


class InsufficientStock(Conflict):
    default_code = "insufficient_stock"


class InvalidTransition(Conflict):
    default_code = "invalid_transition"


class StorageUnavailable(BusinessError):
    status_code = 503
    default_code = "storage_unavailable"

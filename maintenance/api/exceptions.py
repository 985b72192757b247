"""JSON errors everywhere under ``/api/``.

DRF's handler covers its own exceptions; this one adds the service layer's
:class:`~maintenance.api.errors.BusinessError`, Django's model validation errors,
oversized bodies (413) and a failing database (503, also when it fails outside
DRF, see :func:`handler500`), and tags every error body with the request id that
the request log line carries.
"""

from __future__ import annotations

import logging
import sys

import psycopg.errors
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from maintenance.api.errors import BusinessError
from maintenance.http.responses import json_error, with_request_id
from maintenance.http.timing import RequestTimeout

logger = logging.getLogger(__name__)


FALLBACK_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 405: "method_not_allowed"}


def too_large_body() -> dict:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return {
        "detail": f"The request body is larger than the limit of {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).",
        "code": "request_too_large",
        "limit_bytes": limit,
    }


def database_error_body(exc: Exception) -> dict:
    """What a client is told when the database failed: 503, retry, and why.

    A statement cut off by ``statement_timeout`` (or ``lock_timeout``) reads
    differently from a database that cannot be reached, but both are worth a
    retry. Nothing says the change was not applied: a commit may have landed
    just before the connection broke, so the client retries with the same
    ``request_id`` / ``Idempotency-Key`` and is never charged twice.
    """
    cause = exc.__cause__ or exc
    if isinstance(cause, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        return {
            "detail": "The database did not answer in time; retry shortly with the same request id or idempotency key.",
            "code": "database_timeout",
        }
    return {
        "detail": "The database is unavailable; retry shortly with the same request id or idempotency key.",
        "code": "database_unavailable",
    }


DATABASE_RETRY_AFTER = "2"


def business_error_body(exc: BusinessError) -> dict:
    body = {"detail": exc.message, "code": exc.code, **exc.extra}
    if exc.field:
        body["field"] = exc.field
    return body


def request_timeout_body(exc: RequestTimeout) -> dict:
    return with_request_id(
        {"detail": f"The request took longer than {exc} s and was stopped; retry later.", "code": "timeout"}
    )


def exception_handler(exc, context):
    if isinstance(exc, RequestTimeout):
        return Response(request_timeout_body(exc), status=status.HTTP_504_GATEWAY_TIMEOUT)
    if isinstance(exc, BusinessError):
        return Response(with_request_id(business_error_body(exc)), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        return Response(as_serializer_error(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response(with_request_id(too_large_body()), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            with_request_id(database_error_body(exc)),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": DATABASE_RETRY_AFTER},
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        if "detail" in response.data and "code" not in response.data:
            # DRF's own errors carry a code on the exception, not in the body.
            code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", None)
            response.data["code"] = code or FALLBACK_CODES.get(response.status_code, "error")
        response.data = with_request_id(response.data)
    if response is None and isinstance(exc, DatabaseError):
        logger.exception("database error")
    return response


API_NOT_FOUND = "api-not-found"  # the route's name: it answers, but no view of the API does


@csrf_exempt  # as DRF's views are: a token client's write gets the 404, not a CSRF 403
def api_not_found(request, *args, **kwargs):
    """The view of every path under ``/api/`` that no route takes."""
    return json_error(404, "Not found.", "not_found")


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(404, "Not found.", "not_found")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    # Django calls this inside its ``except`` block, so the exception is at hand.
    # A database that failed outside a DRF view (in a middleware, say) is a 503,
    # like inside one, not a 500.
    exc = sys.exc_info()[1]
    if isinstance(exc, RequestTimeout):
        if request.path.startswith("/api/"):
            return JsonResponse(request_timeout_body(exc), status=504)
        return HttpResponse("The request took too long and was stopped.\n", status=504, content_type="text/plain")
    if isinstance(exc, OperationalError | InterfaceError):
        if request.path.startswith(("/api/", "/health/")):
            response = JsonResponse(with_request_id(database_error_body(exc)), status=503)
        else:
            response = HttpResponse(
                "Service temporarily unavailable (database); retry shortly.\n", status=503, content_type="text/plain"
            )
        response["Retry-After"] = DATABASE_RETRY_AFTER
        return response
    if request.path.startswith("/api/"):
        return json_error(500, "Internal server error.", "server_error")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(with_request_id(too_large_body()), status=413)
        return json_error(400, "Bad request.", "bad_request")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(403, "Forbidden.", "permission_denied")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)

"""JSON errors everywhere under ``/api/``.

DRF's handler covers its own exceptions; this one adds the service layer's
:class:`~maintenance.errors.BusinessError`, Django's model validation errors,
oversized bodies (413) and an unreachable database (503), and tags every error
body with the request id that the request log line carries.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from maintenance.errors import BusinessError
from maintenance.timing import current_request_id

logger = logging.getLogger(__name__)


def _with_request_id(data: dict) -> dict:
    request_id = current_request_id.get()
    if request_id and isinstance(data, dict) and "detail" in data:
        data = {**data, "request_id": request_id}
    return data


def business_error_body(exc: BusinessError) -> dict:
    body = {"detail": exc.message, "code": exc.code, **exc.extra}
    if exc.field:
        body["field"] = exc.field
    return body


def exception_handler(exc, context):
    if isinstance(exc, BusinessError):
        return Response(_with_request_id(business_error_body(exc)), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        return Response(as_serializer_error(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            _with_request_id({"detail": str(exc) or "Request body too large.", "code": "request_too_large"}),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            _with_request_id({"detail": "The database is unavailable; retry shortly.", "code": "database_unavailable"}),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "2"},
        )
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data = _with_request_id(response.data)
    if response is None and isinstance(exc, DatabaseError):
        logger.exception("database error")
    return response


def json_error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse(_with_request_id({"detail": detail, "code": code}), status=status_code)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(404, "Not found.", "not_found")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return json_error(500, "Internal server error.", "server_error")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return json_error(413, "Request body too large.", "request_too_large")
        return json_error(400, "Bad request.", "bad_request")
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def handler403(request, exception=None):
    if request.path.startswith("/api/"):
        return json_error(403, "Forbidden.", "permission_denied")
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)

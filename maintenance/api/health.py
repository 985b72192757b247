"""Health: ``GET /health/live/`` (the process answers) and ``GET /health/`` (it can reach its
database and its object store).

The readiness check sends a query and an S3 request, so callers on the network are throttled
like any anonymous client and get only the verdict; staff and callers on this machine (the
container's health check, an operator's curl) get each check with its duration. No one gets
exception text: the reason goes to the log.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny

from maintenance.api.throttling import AnonRateThrottle
from maintenance.http.client_address import client_address

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_storage() -> None:
    # HEAD on the bucket: cheap, and it proves the endpoint, the keys and the bucket.
    client = default_storage.connection.meta.client
    client.head_bucket(Bucket=default_storage.bucket_name)


CHECKS = {"database": check_database, "storage": check_storage}


def _sees_details(request) -> bool:
    """Staff, or a caller on this machine.

    The client's address as the trusted proxies report it (maintenance.http.client_address): behind
    a proxy on the same host every socket address is loopback, so the socket's alone would give
    any remote caller the details.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    try:
        return ipaddress.ip_address(client_address(request) or "").is_loopback
    except ValueError:
        return False


class RemoteCallerThrottle(AnonRateThrottle):
    """The anonymous limit, for readiness checks from the network only."""

    def allow_request(self, request, view):
        return _sees_details(request) or super().allow_request(request, view)


@extend_schema(exclude=True)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def liveness(request):
    """The process is up and answering: no database, no S3."""
    return JsonResponse({"status": "ok"})


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
@throttle_classes([RemoteCallerThrottle])
def health(request):
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok"}
        except Exception as exc:  # any failure means "down"; the reason goes to the log only
            logger.warning("health check %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = {"status": "down"}
        results[name]["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    failing = [name for name, result in results.items() if result["status"] != "ok"]
    body = {"status": "ok" if not failing else "down"}
    if _sees_details(request):
        body["checks"] = results
        if failing:
            body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)

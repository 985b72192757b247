"""``GET /health/``: is the app able to reach its database and its object store?"""

from __future__ import annotations

import time

from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_storage() -> None:
    # HEAD on the bucket: cheap, and it proves the endpoint, the keys and the bucket.
    client = default_storage.connection.meta.client
    client.head_bucket(Bucket=default_storage.bucket_name)


CHECKS = {"database": check_database, "storage": check_storage}


@extend_schema(exclude=True)
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def health(request):
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"status": "ok"}
        except Exception as exc:  # any failure means "down"; the reason is reported
            results[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    failing = [name for name, result in results.items() if result["status"] != "ok"]
    body = {"status": "ok" if not failing else "down", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)

"""Health: a cheap public liveness, details for staff and local callers only, no exception text (issue 22, low).

Before the fix /health/ was anonymous and unthrottled, sent an S3 request per call to anyone, and
returned the exception text of a failing check (endpoints, bucket names) to anyone.
"""

from __future__ import annotations

import pytest
from django.core.files.storage import storages

pytestmark = pytest.mark.django_db

REMOTE = {"REMOTE_ADDR": "203.0.113.5"}


def test_liveness_is_cheap_and_public(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live/", **REMOTE)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_remote_caller_gets_the_verdict_only(client):
    response = client.get("/health/", **REMOTE)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    local = client.get("/health/")  # the test client's 127.0.0.1, like the container's own check
    assert set(local.json()["checks"]) == {"database", "storage"}


def test_a_failing_check_names_no_exception_text(client, monkeypatch):
    # A real failure: S3 answers 404 for a bucket that does not exist.
    monkeypatch.setattr(storages["default"], "bucket_name", "no-such-bucket-for-health")
    remote = client.get("/health/", **REMOTE)
    assert remote.status_code == 503 and remote.json() == {"status": "down"}
    local = client.get("/health/")
    assert local.status_code == 503
    assert local.json()["failing"] == ["storage"] and local.json()["checks"]["storage"]["status"] == "down"
    assert "no-such-bucket" not in local.content.decode() and "error" not in local.json()["checks"]["storage"]

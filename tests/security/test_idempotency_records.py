"""No idempotency record for a request that reached no view (issue 22, low finding).

Before the fix a POST with an Idempotency-Key to an unknown /api/ path stored its 404 (12 KB each
under DEBUG): anyone with a token could fill the table.
"""

from __future__ import annotations

import pytest

from maintenance.idempotency.models import ProcessedRequest

pytestmark = pytest.mark.django_db


def test_an_unknown_path_leaves_no_record_and_a_known_one_does(api):
    for n in range(3):
        response = api.post(f"/api/v1/no-such-thing-{n}/", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY=f"k-{n}")
        assert response.status_code == 404
    assert not ProcessedRequest.objects.exists()
    created = api.post("/api/v1/categories/", {"name": "Seals"}, format="json", HTTP_IDEMPOTENCY_KEY="k-real")
    assert created.status_code == 201
    assert ProcessedRequest.objects.count() == 1

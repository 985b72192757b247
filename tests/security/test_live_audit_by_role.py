"""Finding 2: the audit API needs audit.view_auditor, and shows only models the reader may view."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from conftest import make_user
from inventory.tests.factories import SparePartFactory
from maintenance.accounts.roles import INVENTORY_MANAGERS
from tests.security.conftest import Actor

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def place_order(actor, part, request_id="audit-1"):
    body = {
        "request_id": request_id,
        "client_name": "Ana Gómez",
        "client_phone": "+57 300 000 0000",
        "client_email": "ana@example.com",
        "items": [{"spare_part_id": part.pk, "quantity": 1}],
    }
    response = actor.post("/api/v1/orders/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_every_role_without_the_audit_permission_is_refused(actors):
    part = SparePartFactory(stock=5)
    place_order(actors["superuser"], part)
    for name in ("staff", "viewer", "manager", "technician", "nobody"):
        actor = actors[name]
        for path in ("/api/v1/audit/", "/api/v1/audit/?model=serviceorder"):
            response = actor.get(path)
            assert response.status_code == 403, (name, path, response.text[:200])
            assert "audit.view_auditor" in response.json()["detail"]
    # The superuser reads everything, client data included.
    rows = actors["superuser"].get("/api/v1/audit/?model=serviceorder").json()["results"]
    assert rows and rows[0]["changes"]["client_email"] == [None, "ana@example.com"]


def test_an_auditor_sees_only_the_models_they_may_view(actors, live_server_url):
    part = SparePartFactory(stock=5)
    order_id = place_order(actors["superuser"], part)
    # An inventory auditor: the audit permission, and inventory's view permissions only.
    auditor = make_user("sec-inventory-auditor", is_staff=True)
    auditor.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["audit", "inventory"], codename__startswith="view_")
    )
    reader = Actor("auditor", auditor, live_server_url)

    listed = reader.get("/api/v1/audit/?limit=200").json()
    models = {row["model"] for row in listed["results"]}
    assert "sparepart" in models
    assert not models & {"serviceorder", "serviceorderitem", "serviceorderimage"}, models
    assert reader.get("/api/v1/audit/?model=serviceorder").json()["results"] == []
    # Nor one row by its id.
    order_row = actors["superuser"].get(f"/api/v1/audit/?model=serviceorder&object_id={order_id}").json()
    assert reader.get(f"/api/v1/audit/{order_row['results'][0]['id']}/").status_code == 404

    # The inventory managers role with the audit permission added sees orders too (it may view them).
    manager = actors["manager"].user
    manager.user_permissions.add(Permission.objects.get(content_type__app_label="audit", codename="view_auditor"))
    assert INVENTORY_MANAGERS in {g.name for g in manager.groups.all()}
    assert actors["manager"].get("/api/v1/audit/?model=serviceorder").json()["results"]

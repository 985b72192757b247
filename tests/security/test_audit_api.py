"""The audit API, black-box against the live server: who may read which entries (issue 22, finding 2).

Before the fix a staff user with no role read every client's name, phone and e-mail and every
actor's address from /api/v1/audit/?model=serviceorder (200), while /orders/5/ refused them (403).
"""

from __future__ import annotations

import pytest
import requests
from django.contrib.auth.models import Permission

from conftest import make_user, token_for
from inventory.models import SparePart
from orders import services as orders

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def get(base, user, path):
    return requests.get(f"{base}{path}", headers={"Authorization": f"Token {token_for(user)}"}, timeout=10)


def test_the_audit_trail_needs_its_permission_and_shows_only_viewable_models(live_server_url):
    part = SparePart.objects.create(name="Seal", sku="SEC-NBR-20-2", price="1.00", stock=5)
    orders.place_order(
        request_id="sec-1", client_name="Private Person", items=[{"spare_part_id": part.pk, "quantity": 1}]
    )

    staff_no_role = make_user("staff-no-role", is_staff=True)
    assert get(live_server_url, staff_no_role, "/api/v1/orders/").status_code == 403
    refused = get(live_server_url, staff_no_role, "/api/v1/audit/?model=serviceorder")
    assert refused.status_code == 403, refused.text
    assert "Private Person" not in refused.text

    # A stock clerk allowed to read the trail, who may view parts but not orders, sees the parts' entries only.
    manager = make_user("stock-clerk", is_staff=True)
    manager.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["audit", "inventory"], codename__in=["view_auditor", "view_sparepart"]
        )
    )
    listed = get(live_server_url, manager, "/api/v1/audit/?limit=200")
    assert listed.status_code == 200, listed.text
    models = {entry["model"] for entry in listed.json()["results"]}
    assert "sparepart" in models and "serviceorder" not in models and "serviceorderitem" not in models
    assert "Private Person" not in listed.text

    root = make_user("root-sec", is_staff=True, is_superuser=True)
    everything = get(live_server_url, root, "/api/v1/audit/?model=serviceorder")
    assert everything.status_code == 200 and "Private Person" in everything.text

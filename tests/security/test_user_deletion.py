"""Deleting users whose orders share a request_id (issue 22, bug found by reading).

``created_by`` is SET_NULL and the request_id was unique per user with NULLs not distinct: the
second user deleted turned their order into a duplicate of the first one's and the delete failed
(an IntegrityError, a 500 in the admin).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from conftest import make_user
from inventory.tests.factories import SparePartFactory
from orders import services as orders
from orders.models import ServiceOrder

pytestmark = pytest.mark.django_db


def test_users_who_used_the_same_request_id_can_all_be_deleted(staff):
    part = SparePartFactory(stock=10)
    users = [make_user(f"leaver-{n}") for n in range(3)]
    placed = [
        orders.place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 1}], created_by=user).order
        for user in users
    ]
    users[0].delete()
    # The admin's delete, as staff use it, for the second one.
    response = staff.post(f"/admin/auth/user/{users[1].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[:500]
    users[2].delete()
    assert not get_user_model().objects.filter(pk__in=[user.pk for user in users]).exists()
    kept = ServiceOrder.objects.filter(pk__in=[order.pk for order in placed])
    assert [(order.request_id, order.created_by_id) for order in kept] == [("r1", None)] * 3
    # A user still gets one order per request_id.
    again = make_user("stayer")
    first = orders.place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 1}], created_by=again)
    replay = orders.place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 1}], created_by=again)
    assert (replay.replayed, replay.order.pk) == (True, first.order.pk)

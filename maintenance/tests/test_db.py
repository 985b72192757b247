"""insert_rows writes what bulk_create would, with the same field preparation."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from inventory.models import StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.audit.models import Auditor
from maintenance.db import insert_rows
from orders.models import ServiceOrder

pytestmark = pytest.mark.django_db


def test_rows_get_their_ids_in_order_and_read_back_equal(superuser):
    orders = insert_rows(
        [
            ServiceOrder(request_id=f"r{i}", client_name=f"c{i}", total=Decimal("1.50"), created_by=superuser)
            for i in range(3)
        ]
    )
    assert [o.pk for o in orders] == sorted(o.pk for o in orders)
    for order in orders:
        stored = ServiceOrder.objects.get(pk=order.pk)
        assert (stored.request_id, stored.client_name, stored.total, stored.created_by_id) == (
            order.request_id,
            order.client_name,
            Decimal("1.50"),
            superuser.pk,
        )
        assert stored.status == "pending"  # the model's default
        # auto_now_add / auto_now were filled in by pre_save, as bulk_create does.
        assert order.date_created is not None and stored.date_created == order.date_created
        assert not order._state.adding


def test_json_and_nullable_fields_are_prepared(superuser):
    part = SparePartFactory()
    entry = Auditor(
        content_type=ContentType.objects.get_for_model(part),
        object_id=str(part.pk),
        action=Auditor.Action.UPDATE,
        changes={"stock": [1, 2], "note": "ü"},
        actor=superuser,
        remote_addr=None,
    )
    insert_rows([entry])
    stored = Auditor.objects.get(pk=entry.pk)
    assert stored.changes == {"stock": [1, 2], "note": "ü"}
    assert (stored.actor_id, stored.remote_addr, stored.object_repr) == (superuser.pk, None, "")


def test_constraints_still_hold():
    part = SparePartFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows([StockMovement(spare_part_id=part.pk, delta=1, stock_after=-1, reason="adjustment")])
    assert not StockMovement.objects.filter(stock_after=-1).exists()


def test_nothing_to_insert():
    assert insert_rows([]) == []

"""Two transactions on the same parts, interleaved for real on two connections.

A helper thread does its work in a transaction and keeps it open until the main
thread's connection waits for one of its locks (seen in ``pg_stat_activity``);
then it commits, and the test checks what the main thread's operation made of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connection, transaction

from inventory import services
from inventory.models import SparePart
from inventory.tests.factories import SparePartFactory
from maintenance.errors import Conflict, InvalidInput
from orders import services as orders
from orders.models import ServiceOrderItem

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def waits_for_a_lock(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == "Lock":
                return True
            time.sleep(0.02)
    return False


@contextmanager
def held_open(work: Callable[[], object]):
    """Run ``work`` in another connection's transaction, committed once this thread waits for its locks.

    Yields after ``work`` has run (its locks are held); the block's operation is
    expected to wait for them. Afterwards, ``held.waited`` says whether it did.
    """
    waiter, started, outcome = backend_pid(), threading.Event(), {}

    def run():
        try:
            with transaction.atomic():
                work()
                started.set()
                outcome["waited"] = waits_for_a_lock(waiter)
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc
        finally:
            started.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(30)
    try:
        yield outcome
    finally:
        thread.join(30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["waited"], "the operation never waited for the other transaction's locks"


def test_deleting_a_part_while_an_order_takes_it_is_409_part_in_use():
    part = SparePartFactory(sku="A-STL-M10-50", stock=5)

    def place_an_order():
        orders.place_order(request_id="r1", items=[{"spare_part_id": part.pk, "quantity": 1}])

    with held_open(place_an_order), pytest.raises(Conflict) as refused:
        services.delete_spare_part(part)

    assert refused.value.code == "part_in_use"
    assert SparePart.objects.get(pk=part.pk).stock == 4
    assert ServiceOrderItem.objects.filter(spare_part=part).count() == 1


def test_renaming_to_a_sku_a_concurrent_rename_took_is_400_already_exists():
    first = SparePartFactory(sku="A-STL-M10-50")
    second = SparePartFactory(sku="A-STL-M12-60", price=Decimal("1.00"))

    with (
        held_open(lambda: services.update_spare_part(first, sku="B-STL-M10-50")),
        pytest.raises(InvalidInput) as refused,
    ):
        services.update_spare_part(second, sku="B-STL-M10-50", price=Decimal("2.00"))

    assert (refused.value.code, refused.value.field) == ("already_exists", "sku")
    assert "B-STL-M10-50" in refused.value.message
    second.refresh_from_db()
    assert (second.sku, second.price) == ("A-STL-M12-60", Decimal("1.00"))
    assert SparePart.objects.get(pk=first.pk).sku == "B-STL-M10-50"

"""Inventory under concurrency: no lost update, never negative, the ledger exact, locks in one order.

Two kinds of test. Races: two transactions on the same parts, interleaved for real on
two connections — a helper thread does its work in a transaction and keeps it open until the main
thread's connection waits for one of its locks (seen in ``pg_stat_activity``);
then it commits, and the test checks what the main thread's operation made of it.
Parallel requests (marker ``live``): many clients at once against gunicorn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from threading import Barrier

import pytest
import requests
import tablib
from django.db import connection, transaction
from django.db.models import Sum

from conftest import make_user, token_for
from inventory import services
from inventory.models import Category, SparePart, StockMovement
from inventory.resources import SparePartResource
from inventory.tests.factories import SparePartFactory
from maintenance.api.errors import Conflict, InvalidInput
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
def held_open(work: Callable[[], object], then: Callable[[], object] = lambda: None):
    """Run ``work`` in another connection's transaction, committed once this thread waits for its locks.

    Yields after ``work`` has run (its locks are held); the block's operation is
    expected to wait for them. ``then`` runs in that transaction once it does,
    before the commit; what it raises fails the test.
    """
    waiter, started, outcome = backend_pid(), threading.Event(), {}

    def run():
        try:
            with transaction.atomic():
                work()
                started.set()
                outcome["waited"] = waits_for_a_lock(waiter)
                then()
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


def test_an_import_locks_its_parts_in_id_order_like_orders_do():
    """A file naming a part with a higher id first, while an order holds the lower one and wants the other.

    Rows changed stock in file order: the import took the second part, waited for
    the first, and the order, waiting for the second, deadlocked with it. Now the
    import waits for the first part before it touches any, so the order's next
    lock is free.
    """
    first = SparePartFactory(sku="A-STL-M10-50", stock=5)
    second = SparePartFactory(sku="A-STL-M12-60", stock=5)
    dataset = tablib.Dataset(headers=["sku", "name", "price", "stock"])
    dataset.append([second.sku, second.name, "10.00", "7"])
    dataset.append([first.sku, first.name, "10.00", "8"])

    def the_orders_next_lock():
        with connection.cursor() as cursor:  # NOWAIT: fails at once if the import holds it
            cursor.execute("SELECT id FROM inventory_sparepart WHERE id = %s FOR UPDATE NOWAIT", [second.pk])

    with held_open(lambda: services.lock_parts([first.pk]), then=the_orders_next_lock):
        result = SparePartResource().import_data(dataset, dry_run=False, use_transactions=True)

    assert not result.has_errors() and not result.has_validation_errors()
    assert dict(SparePart.objects.values_list("sku", "stock")) == {first.sku: 8, second.sku: 7}


def test_a_part_given_a_category_deleted_meanwhile_is_400_naming_the_category():
    """The category was read before the change began; its deletion commits while the change runs."""
    part = SparePartFactory(sku="A-STL-M10-50", category=None)
    doomed = Category.objects.create(name="Doomed")

    # Another copy is deleted (delete() clears its instance's pk), as another request would.
    with (
        held_open(lambda: services.delete_category(Category.objects.get(pk=doomed.pk))),
        pytest.raises(InvalidInput) as refused,
    ):
        services.update_spare_part(part, category=doomed, name="Renamed")
    assert (refused.value.field, refused.value.code) == ("category_id", "does_not_exist")
    assert f"Category {doomed.pk} " in refused.value.message
    part.refresh_from_db()
    assert (part.category_id, part.name) == (None, SparePart.objects.get(pk=part.pk).name)
    assert part.name != "Renamed"

    doomed_too = Category.objects.create(name="Doomed too")
    with (
        held_open(lambda: services.delete_category(Category.objects.get(pk=doomed_too.pk))),
        pytest.raises(InvalidInput) as refused,
    ):
        services.create_spare_part(name="New", sku="B-STL-M10-50", price=Decimal("1.00"), category=doomed_too)
    assert (refused.value.field, refused.value.code) == ("category_id", "does_not_exist")  # not "SKU exists"
    assert not SparePart.objects.filter(sku="B-STL-M10-50").exists()


# --- parallel HTTP requests against gunicorn ------------------------------------


@pytest.mark.live
def test_parallel_adjustments_keep_the_ledger_exact(live_server_url):
    user = make_user(is_superuser=True, is_staff=True)
    headers = {"Authorization": f"Token {token_for(user)}"}
    part = SparePartFactory(sku="A-STL-M10-50", stock=20)
    deltas = [+3, -2] * 15 + [-5] * 10  # 45 - 30 - 50: some takes must be refused
    barrier = Barrier(len(deltas))
    url = f"{live_server_url}/api/v1/items/A-STL-M10-50/adjust-stock/"

    def send(delta):
        barrier.wait(timeout=30)
        return delta, requests.post(url, json={"delta": delta}, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=len(deltas)) as pool:
        results = list(pool.map(send, deltas))

    assert {status for _, status in results} <= {200, 409}
    accepted = sum(delta for delta, status in results if status == 200)
    part.refresh_from_db()
    assert part.stock == 20 + accepted
    assert part.stock >= 0
    ledger = StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"]
    assert ledger == part.stock
    assert StockMovement.objects.filter(spare_part=part).count() == 1 + sum(1 for _, s in results if s == 200)

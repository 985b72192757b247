"""The admin on big tables (issue 24): estimated page counts, bounded pages, indexed searches.

The speed itself is measured by the benchmark (bench S6) and the query plans by
test_query_plans.py; here, that the lists still show the right rows.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory.models import StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.adminkit.pagination import EstimatedCountPaginator
from maintenance.audit.models import Auditor
from maintenance.backoffice.dashboard import status_counts
from orders import services as orders
from orders.admin import ServiceOrderAdmin
from orders.models import ServiceOrder

pytestmark = pytest.mark.django_db

LEDGER = reverse("admin:inventory_stockmovement_changelist")
AUDIT = reverse("admin:audit_auditor_changelist")
ORDERS = reverse("admin:orders_serviceorder_changelist")


def place(part, request_id):
    return orders.place_order(request_id=request_id, items=[{"spare_part_id": part.pk, "quantity": 1}]).order


class TinyPaginator(EstimatedCountPaginator):
    exact_count_limit = 3
    max_pages = 2


def test_small_lists_are_counted_exactly():
    SparePartFactory.create_batch(3)
    paginator = EstimatedCountPaginator(StockMovement.objects.order_by("-id"), 2)
    assert paginator.count == 3 and not paginator.is_estimated
    assert paginator.num_pages == 2


def test_big_lists_are_estimated_and_offer_a_bounded_number_of_pages():
    SparePartFactory.create_batch(7)
    paginator = TinyPaginator(StockMovement.objects.order_by("-id"), 1)
    assert paginator.is_estimated
    assert paginator.count >= 4  # at least what the capped count saw
    assert paginator.num_pages == 2
    assert len(paginator.page(2).object_list) == 1
    with pytest.raises(Exception, match="contains no results"):
        paginator.page(3)


def test_an_admin_page_past_the_last_offered_one_is_refused(staff, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "max_pages", 1)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_count_limit", 1)
    monkeypatch.setattr(ServiceOrderAdmin, "list_per_page", 1)
    for n in range(3):
        place(SparePartFactory(stock=5), f"deep-{n}")
    assert staff.get(ORDERS, {"p": 1}).status_code == 200
    # The admin's answer to a page that does not exist: back to the list with ?e=1.
    response = staff.get(ORDERS, {"p": 2})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_ledger_search_by_exact_sku_or_note(staff):
    bolt = SparePartFactory(sku="B-STL-M8-20", stock=5)
    SparePartFactory(sku="B-STL-M8-200", stock=5)

    def found(term):
        return {m.spare_part_id for m in staff.get(LEDGER, {"q": term}).context["cl"].result_list}

    assert found("B-STL-M8-20") == {bolt.pk}  # exact: not the -200 part
    assert found("b-stl-m8-20") == set()  # SKUs are compared as written
    StockMovement.objects.filter(spare_part=bolt).update(note="Delivery from Bogota")
    assert found("bogota") == {bolt.pk}


def test_audit_search_by_request_id_object_id_or_name(staff):
    part = SparePartFactory(name="Hydraulic seal", stock=5)
    entry = Auditor.objects.filter(object_id=str(part.pk)).first()
    Auditor.objects.filter(pk=entry.pk).update(request_id="Req-ABC-1")

    def found(term):
        return {e.pk for e in staff.get(AUDIT, {"q": term}).context["cl"].result_list}

    assert entry.pk in found("Req-ABC-1")
    assert entry.pk not in found("req-abc-1")  # request ids are compared as written
    assert entry.pk in found(str(part.pk))
    assert entry.pk in found("hydraulic")


def test_order_search_by_exact_sku_lists_each_order_once(staff):
    part = SparePartFactory(sku="Q-STL-M4-10", stock=10)
    other = SparePartFactory(sku="Q-STL-M4-11", stock=10)
    first = orders.place_order(
        request_id="two-lines",
        items=[{"spare_part_id": part.pk, "quantity": 1}, {"spare_part_id": other.pk, "quantity": 1}],
    ).order
    second = place(part, "one-line")
    place(other, "not-this-part")
    rows = [order.pk for order in staff.get(ORDERS, {"q": "Q-STL-M4-10"}).context["cl"].result_list]
    assert sorted(rows) == sorted([first.pk, second.pk])


def test_dashboard_counts_exactly_up_to_the_limit_then_estimates():
    part = SparePartFactory(stock=10)
    for n in range(4):
        place(part, f"status-{n}")
    exact = status_counts()
    assert exact["pending"] == (4, False) and exact["completed"] == (0, False)
    capped = status_counts(limit=2)
    count, approximate = capped["pending"]
    assert approximate and count >= 3
    assert ServiceOrder.objects.count() == 4

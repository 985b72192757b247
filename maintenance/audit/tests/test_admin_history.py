"""The audit trail in the admin (read-only) and the History pages built on it; idempotency keys."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from inventory import services as inventory
from inventory.models import SparePart
from inventory.tests.factories import SparePartFactory
from maintenance.audit.admin import describe_entries
from maintenance.audit.models import Auditor
from maintenance.idempotency.models import ProcessedRequest

pytestmark = pytest.mark.django_db

AUDIT_LIST = reverse("admin:audit_auditor_changelist")


def test_audit_list_filters_and_search(staff, api):
    part = SparePartFactory(sku="A-STL-M10-50", price=Decimal("10.00"))
    changed = api.patch("/api/v1/items/A-STL-M10-50", {"price": "12.50"}, format="json")
    other = SparePartFactory(sku="B-CHR-20-47")

    response = staff.get(AUDIT_LIST)
    assert response.status_code == 200
    # Field labels, one change per line.
    assert "<strong>Price</strong>: 10.00 → 12.50" in response.content.decode()

    def found(**params):
        response = staff.get(AUDIT_LIST, params)
        assert response.status_code == 200
        return list(response.context["cl"].result_list)

    by_request = found(q=changed["X-Request-ID"])
    assert [entry.changes for entry in by_request] == [{"price": ["10.00", "12.50"]}]
    assert {entry.object_id for entry in found(q=other.sku)} == {str(other.pk)}
    part_type = ContentType.objects.get_for_model(SparePart)
    rows = found(content_type__id__exact=part_type.pk, object_id=part.pk, action__exact="update")
    assert rows and all(row.object_id == str(part.pk) and row.action == "update" for row in rows)
    assert found(actor__id__exact=by_request[0].actor_id)
    today = timezone.localdate()
    assert found(timestamp__year=today.year, timestamp__month=today.month, timestamp__day=today.day)
    # A field by its name or its label finds the changes of that field.
    by_price = found(q="price")
    assert {"price": ["10.00", "12.50"]} in [entry.changes for entry in by_price]
    assert all("price" in entry.changes for entry in by_price)
    assert found(q="Reorder level") and all("min_stock" in entry.changes for entry in found(q="reorder level"))
    assert found(q="no such field or thing") == []


def test_audit_entries_are_read_only(staff):
    part = SparePartFactory()
    entry = Auditor.objects.filter(object_id=str(part.pk)).first()
    detail = staff.get(reverse("admin:audit_auditor_change", args=[entry.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert '<table class="audit-changes">' in html and "Save" not in html
    assert staff.get(reverse("admin:audit_auditor_add")).status_code == 403
    assert staff.post(reverse("admin:audit_auditor_change", args=[entry.pk]), {"action": "delete"}).status_code == 403
    assert staff.post(reverse("admin:audit_auditor_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert Auditor.objects.filter(pk=entry.pk).exists()


def test_part_history_is_a_timeline_of_old_and_new_values(staff, api, superuser):
    part = SparePartFactory(sku="A-STL-M10-50", price=Decimal("10.00"), stock=10, category__name="Fasteners")
    api.patch("/api/v1/items/A-STL-M10-50", {"price": "12.50", "category_id": None}, format="json")
    inventory.adjust_stock(part, delta=-4)
    response = staff.get(reverse("admin:inventory_sparepart_history", args=[part.pk]))
    assert response.status_code == 200
    html = " ".join(response.content.decode().split())
    assert '<span class="audit-old">10.00</span> → <span class="audit-new">12.50</span>' in html
    assert '<span class="audit-old">Fasteners (#' in html  # foreign keys by name
    assert '<span class="audit-old">10</span> → <span class="audit-new">6</span>' in html
    assert f"<strong>{superuser.username}</strong> updated" in html
    assert "<strong>system</strong> updated" in html  # the adjustment made outside a request


def test_history_of_an_unknown_object_redirects(staff):
    response = staff.get(reverse("admin:inventory_sparepart_history", args=[999999]))
    assert response.status_code == 302


def test_describe_entries_resolves_each_related_model_once(django_assert_max_num_queries):
    parts = SparePartFactory.create_batch(5)
    entries = list(Auditor.objects.filter(action="create").select_related("content_type", "actor"))
    assert len(entries) >= 5
    with django_assert_max_num_queries(1):  # the categories, in one query
        described = describe_entries(entries)
    labels = {change["label"] for item in described for change in item["changes"]}
    assert {"Sku", "Price", "Category"} <= labels
    assert any(change["new"].startswith(parts[0].category.name) for item in described for change in item["changes"])


def test_processed_requests_are_listed_read_only(staff, superuser):
    key = ProcessedRequest.objects.create(
        key="idem-1",
        user=superuser,
        method="POST",
        path="/api/v1/orders/",
        fingerprint="0" * 64,
        state=ProcessedRequest.State.COMPLETED,
        response_status=201,
        response_body=b'{"id": 1}',
        replay_count=2,
        created_at=timezone.now(),
    )
    listing = staff.get(reverse("admin:idempotency_processedrequest_changelist"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "idem-1" in html and "/api/v1/orders/" in html
    detail = staff.get(reverse("admin:idempotency_processedrequest_change", args=[key.pk]))
    assert detail.status_code == 200 and "9 bytes" in detail.content.decode()
    assert staff.get(reverse("admin:idempotency_processedrequest_add")).status_code == 403
    assert (
        staff.post(reverse("admin:idempotency_processedrequest_delete", args=[key.pk]), {"post": "yes"}).status_code
        == 403
    )

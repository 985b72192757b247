"""The admin index's dashboard: orders by status, low stock, orders per day as inline SVG."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conftest import make_user
from inventory.tests.factories import SparePartFactory
from maintenance.accounts.roles import INVENTORY_MANAGERS
from orders import services as orders
from orders.models import ServiceOrder

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def place(part, request_id, days_ago=0):
    order = orders.place_order(request_id=request_id, items=[{"spare_part_id": part.pk, "quantity": 1}]).order
    if days_ago:
        ServiceOrder.objects.filter(pk=order.pk).update(date_created=timezone.now() - datetime.timedelta(days=days_ago))
    return order


def test_dashboard_shows_counts_low_stock_and_chart(staff):
    part = SparePartFactory(stock=100, min_stock=0)
    low = SparePartFactory(sku="L-STL-M1-1", name="Almost gone", stock=2, min_stock=5)
    SparePartFactory(sku="Z-STL-M1-1", stock=0, min_stock=0)  # out of stock counts as low too
    for n in range(3):
        place(part, f"today-{n}")
    place(part, "week-ago", days_ago=7)
    place(part, "too-old", days_ago=45)
    started = place(part, "started")
    orders.change_status(started.pk, "in_progress")

    response = staff.get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    # Shown before the app list.
    assert html.index('id="workshop-dashboard"') < html.index('class="app-inventory')

    tiles = dict(re.findall(r'data-status="(\w+)">\s*<span class="count">(\d+)</span>', html))
    assert tiles == {"pending": "5", "in_progress": "1", "completed": "0", "cancelled": "0"}
    assert "Orders by status — 6 open" in html
    assert f'href="{reverse("admin:orders_serviceorder_changelist")}?status__exact=in_progress"' in html

    assert "Low stock — 2 parts at or below reorder level" in html
    assert f'href="{reverse("admin:inventory_sparepart_changelist")}?low_stock=yes"' in html
    assert reverse("admin:inventory_sparepart_change", args=[low.pk]) in html

    svg = html[html.index("<svg viewBox") : html.index("</svg>", html.index("<svg viewBox"))]
    bars = re.findall(r'data-day="([\d-]+)" data-count="(\d+)"', svg)
    assert len(bars) == 30
    counts = dict(bars)
    today = timezone.localdate()
    assert counts[today.isoformat()] == "4"
    assert counts[(today - datetime.timedelta(days=7)).isoformat()] == "1"
    assert sum(int(count) for _day, count in bars) == 5  # the 45-day-old order is outside
    assert "Orders per day — 5 in the last 30 days" in html
    assert "cdn" not in html.lower() and "<script" not in svg


def test_a_bar_links_to_that_days_orders(staff):
    part = SparePartFactory(stock=100)
    old = place(part, "week-ago", days_ago=7)
    place(part, "today")
    html = staff.get(INDEX).content.decode()
    day = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()
    url = re.search(rf'<a href="([^"]+)" class="day" data-day="{day}"', html).group(1).replace("&amp;", "&")
    response = staff.get(url)
    assert response.status_code == 200
    assert [order.pk for order in response.context["cl"].result_list] == [old.pk]


def test_dashboard_costs_a_few_queries_whatever_the_data(staff):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(INDEX).status_code == 200
        return len(queries)

    part = SparePartFactory(stock=1000)
    place(part, "first")
    few = count_queries()
    for n in range(20):
        SparePartFactory(stock=0, min_stock=1)
        place(part, f"more-{n}", days_ago=n)
    assert count_queries() == few


def test_users_see_only_what_they_may_view(client):
    manager = make_user(groups=(INVENTORY_MANAGERS,), is_staff=True)
    client.force_login(manager)
    SparePartFactory(stock=0, min_stock=1)
    html = client.get(INDEX).content.decode()
    assert "Low stock — 1 part at or below reorder level" in html
    # Inventory managers may view orders (all roles can), so the order figures show too.
    assert 'id="dashboard-orders"' in html

    nobody = make_user(is_staff=True)
    client.force_login(nobody)
    html = client.get(INDEX).content.decode()
    assert 'id="workshop-dashboard"' not in html


def test_the_work_comes_first_and_the_machinery_last_under_system(staff):
    html = staff.get(reverse("admin:index")).content.decode()
    positions = [html.index(name) for name in ("Service orders", "Inventory", "Order images", "System")]
    assert positions == sorted(positions)
    system = html[html.index(">System<") :]
    for model in ("Audit entries", "Processed requests", "Users", "Groups"):
        assert model in system, model


def test_the_dashboard_is_on_the_index_only_and_view_site_opens_the_api(staff):
    index = staff.get(reverse("admin:index")).content.decode()
    assert 'id="workshop-dashboard"' in index
    app_index = staff.get(reverse("admin:app_list", kwargs={"app_label": "inventory"})).content.decode()
    assert 'id="workshop-dashboard"' not in app_index and "Spare parts" in app_index
    assert 'href="/api/v1/"' in index
    assert staff.get("/api/v1/").status_code == 200

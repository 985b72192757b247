"""The admin index's dashboard: what staff look at first.

Open orders by status, parts at or below their reorder level, and orders per
day over the last 30 days as an inline SVG bar chart drawn on the server (no
JavaScript, no CDN). Each figure links to the admin list it summarises. A few
queries in all, whatever the amount of data, each bounded by an index: statuses
are counted exactly up to 10,000 orders each (an index scan that stops there) and
estimated by PostgreSQL above (issue 24: a GROUP BY over two million orders took
400 ms). The template tag in
``maintenance/backoffice/templatetags/maintenance_dashboard.py`` puts :func:`dashboard`
into ``admin/index.html``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Count, F, Window
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from inventory.models import SparePart
from maintenance.adminkit.pagination import EXACT_COUNT_LIMIT, estimated_rows
from orders.models import ALLOWED_TRANSITIONS, OrderStatus, ServiceOrder

CHART_DAYS = 30
LOW_STOCK_ROWS = 8
CHART_WIDTH = 600
CHART_HEIGHT = 150
CHART_TOP = 14  # room for the value above the tallest bar
CHART_BOTTOM = 22  # room for the day labels


@dataclass(frozen=True)
class Bar:
    day: datetime.date
    count: int
    x: float
    y: float
    width: float
    height: float
    url: str
    label_x: float
    value_y: float
    show_label: bool
    label_anchor: str


def _changelist(name: str, **params) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


# Each status counted up to one past the limit, by orders_status_created_idx.
CAPPED_STATUS_COUNTS_SQL = f"""
SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM {ServiceOrder._meta.db_table} o
                                        WHERE o.status = s.status LIMIT %(limit)s) capped)
FROM unnest(%(statuses)s::text[]) AS s(status)
"""


def status_counts(limit: int = EXACT_COUNT_LIMIT) -> dict[str, tuple[int, bool]]:
    """status → (count, approximate): exact up to ``limit``, PostgreSQL's estimate above."""
    with connection.cursor() as cursor:
        cursor.execute(CAPPED_STATUS_COUNTS_SQL, {"limit": limit + 1, "statuses": list(OrderStatus.values)})
        capped = dict(cursor.fetchall())
    counts = {}
    for status, count in capped.items():
        if count > limit:
            counts[status] = (max(count, estimated_rows(ServiceOrder.objects.filter(status=status))), True)
        else:
            counts[status] = (count, False)
    return counts


def orders_by_status() -> list[dict]:
    counts = status_counts()
    return [
        {
            "status": status.value,
            "label": status.label,
            "count": counts.get(status.value, (0, False))[0],
            "approximate": counts.get(status.value, (0, False))[1],
            "open": bool(ALLOWED_TRANSITIONS[status]),
            "url": _changelist("orders_serviceorder", status__exact=status.value),
        }
        for status in OrderStatus
    ]


def low_stock_parts(limit: int = LOW_STOCK_ROWS) -> tuple[int, list[dict]]:
    """How many parts are at or below their reorder level, and the worst ``limit`` of them."""
    rows = list(
        SparePart.objects.filter(stock__lte=F("min_stock"))
        .annotate(total=Window(Count("id")))
        .order_by(F("stock") - F("min_stock"), "sku")
        .values("id", "sku", "name", "stock", "min_stock", "total")[:limit]
    )
    total = rows[0]["total"] if rows else 0
    for row in rows:
        row["url"] = reverse("admin:inventory_sparepart_change", args=[row["id"]])
    return total, rows


def _local_midnight(day: datetime.date, tz) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)


def orders_per_day(days: int = CHART_DAYS) -> dict:
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    first = today - datetime.timedelta(days=days - 1)
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=tz)
    counts = dict(
        ServiceOrder.objects.filter(date_created__gte=start)
        .annotate(day=TruncDate("date_created", tzinfo=tz))
        .order_by()
        .values_list("day")
        .annotate(count=Count("id"))
    )
    days_shown = (first + datetime.timedelta(days=offset) for offset in range(days))
    series = [(day, counts.get(day, 0)) for day in days_shown]
    peak = max((count for _day, count in series), default=0)
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = CHART_WIDTH / days
    bars = []
    for index, (day, count) in enumerate(series):
        height = (count / peak * plot_height) if peak else 0
        if count and height < 2:
            height = 2
        x = index * slot + 1
        bars.append(
            Bar(
                day=day,
                count=count,
                x=round(x, 1),
                y=round(CHART_TOP + plot_height - height, 1),
                width=round(slot - 2, 1),
                height=round(height, 1),
                # A range of the (date_created, id) index; ?date_created__month=&__day= would be
                # EXTRACT() over every order of the year.
                url=_changelist(
                    "orders_serviceorder",
                    date_created__gte=_local_midnight(day, tz).isoformat(),
                    date_created__lt=_local_midnight(day + datetime.timedelta(days=1), tz).isoformat(),
                ),
                label_x=round(x + (slot - 2) / 2, 1),
                value_y=round(CHART_TOP + plot_height - height - 3, 1),
                show_label=index % 5 == 0 or index == days - 1,
                # The first and last day labels stay inside the chart.
                label_anchor="start" if index == 0 else "end" if index == days - 1 else "middle",
            )
        )
    return {
        "bars": bars,
        "total": sum(count for _day, count in series),
        "peak": peak,
        "first": first,
        "last": today,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "top": CHART_TOP,
        "plot_height": plot_height,
        "baseline": CHART_HEIGHT - CHART_BOTTOM,
        "label_y": CHART_HEIGHT - 6,
    }


def dashboard(request) -> dict:
    """The dashboard's data, limited to what the user may see."""
    user = request.user
    data: dict = {"show": False}
    if user.has_perm("orders.view_serviceorder"):
        statuses = orders_by_status()
        data.update(
            show=True,
            orders_by_status=statuses,
            open_orders=sum(row["count"] for row in statuses if row["open"]),
            chart=orders_per_day(),
        )
    if user.has_perm("inventory.view_sparepart"):
        total, parts = low_stock_parts()
        data.update(
            show=True,
            low_stock_total=total,
            low_stock_parts=parts,
            low_stock_url=_changelist("inventory_sparepart", low_stock="yes"),
        )
    return data

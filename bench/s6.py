"""S6 (issue 24): every page a clerk or client uses, on years of data.

Runs when the big data set of ``make bench-data`` exists (database
``maintenance_bigdata``): gunicorn as in production on that database, one
client, each page requested ``warmup`` times (discarded) and then ``requests``
times one after the other; p50 and p95 of the wall time from send to last byte.
Targets: p95 below 300 ms for admin pages and below 150 ms for the API.

The pages' ids and search terms are read from the data set itself (the part
with the most movements, the order with the most lines, a client's name and
e-mail, a request id, an SKU prefix), so the list works at any ``--scale``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
import secrets
import statistics
import subprocess
import sys
import time
from urllib.parse import quote, urlencode

from bench.bigdata import BENCH_PASSWORD, BENCH_USER, BIG_DB
from maintenance.adminkit.pagination import MAX_PAGES

ADMIN_BUDGET_MS = 300
API_BUDGET_MS = 150


def big_data_present(db) -> bool:
    """Whether ``make bench-data`` has filled its database."""
    if not db.query("SELECT 1 FROM pg_database WHERE datname = %s", [BIG_DB], dbname="postgres"):
        return False
    try:
        return bool(db.query("SELECT EXISTS (SELECT 1 FROM inventory_sparepart)", dbname=BIG_DB)[0][0])
    except Exception:  # not migrated
        return False


def _one(db, sql: str, params=None):
    rows = db.query(sql, params, dbname=BIG_DB)
    return rows[0] if rows else None


def pages(db) -> list[tuple[str, str, str]]:
    """(kind, label, path) of every page measured, kind "admin" or "api"."""
    parts = _one(db, "SELECT reltuples::bigint FROM pg_class WHERE relname = 'inventory_sparepart'")[0]
    orders = _one(db, "SELECT reltuples::bigint FROM pg_class WHERE relname = 'orders_serviceorder'")[0]
    (busy_part, busy_sku) = _one(
        db,
        "SELECT p.id, p.sku FROM inventory_sparepart p WHERE p.id = (SELECT spare_part_id FROM"
        " inventory_stockmovement GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)",
    )
    (some_part, some_sku, category) = _one(
        db, "SELECT id, sku, category_id FROM inventory_sparepart WHERE id = %s", [max(2, parts // 3)]
    )
    (big_order,) = _one(
        db, "SELECT order_id FROM orders_serviceorderitem GROUP BY 1 HAVING count(*) >= 50 ORDER BY 1 LIMIT 1"
    ) or (1,)
    (order, client_name, client_email, request_id) = _one(
        db,
        "SELECT id, client_name, client_email, request_id FROM orders_serviceorder WHERE id = %s",
        [max(1, orders // 4)],
    )
    (audit_request_id, audit_middle) = _one(
        db, "SELECT request_id, timestamp FROM audit_auditor WHERE object_id = %s LIMIT 1", [str(order)]
    )
    # A page deep in the trail, as a client reaches it by following "next": a cursor at that
    # entry's time (DRF's cursor is the base64 of "p=<position>").
    deep_cursor = base64.b64encode(urlencode({"p": str(audit_middle)}).encode()).decode()
    order_ct, part_ct = (
        _one(db, "SELECT id FROM django_content_type WHERE app_label = %s AND model = %s", [app, model])[0]
        for app, model in (("orders", "serviceorder"), ("inventory", "sparepart"))
    )
    (latest,) = _one(db, "SELECT max(date_created) FROM orders_serviceorder")
    week_ago = (latest - datetime.timedelta(days=7)).isoformat()
    # As the dashboard's chart links a day.
    day_start = latest.replace(hour=0, minute=0, second=0, microsecond=0)
    one_day = {
        "date_created__gte": day_start.isoformat(),
        "date_created__lt": (day_start + datetime.timedelta(days=1)).isoformat(),
    }
    name_fragment = "Bearing"
    sku_prefix = some_sku.rsplit("-", 1)[0] + "-" + str(some_part)[:2]
    # The admin offers MAX_PAGES pages of a big list (maintenance.adminkit.pagination): the last one.
    deep_parts = min(MAX_PAGES, max(2, parts // 50 // 2))
    deep_orders = min(MAX_PAGES, max(2, orders // 50 // 2))
    deep_big = min(MAX_PAGES, max(2, orders * 5 // 100 // 2))

    def q(**params) -> str:
        return "?" + urlencode(params)

    admin = [
        ("index and dashboard", "/admin/"),
        ("categories", "/admin/inventory/category/"),
        ("parts", "/admin/inventory/sparepart/"),
        ("parts, deep page", f"/admin/inventory/sparepart/{q(p=deep_parts)}"),
        ("parts, low stock", f"/admin/inventory/sparepart/{q(low_stock='yes')}"),
        ("parts, one category", f"/admin/inventory/sparepart/{q(category__id__exact=category)}"),
        ("parts, search name fragment", f"/admin/inventory/sparepart/{q(q=name_fragment)}"),
        ("parts, search SKU prefix", f"/admin/inventory/sparepart/{q(q=sku_prefix)}"),
        ("part change page (busiest part)", f"/admin/inventory/sparepart/{busy_part}/change/"),
        ("part history", f"/admin/inventory/sparepart/{busy_part}/history/"),
        ("orders", "/admin/orders/serviceorder/"),
        ("orders, deep page", f"/admin/orders/serviceorder/{q(p=deep_orders)}"),
        *(
            (f"orders, {status}", f"/admin/orders/serviceorder/{q(status__exact=status)}")
            for status in ("pending", "in_progress", "completed", "cancelled")
        ),
        ("orders, last 7 days", f"/admin/orders/serviceorder/{q(date_created__gte=week_ago)}"),
        ("orders, one day", f"/admin/orders/serviceorder/{q(**one_day)}"),
        ("orders, search client name", f"/admin/orders/serviceorder/{q(q=client_name)}"),
        ("orders, search client e-mail", f"/admin/orders/serviceorder/{q(q=client_email)}"),
        ("orders, search request id", f"/admin/orders/serviceorder/{q(q=request_id)}"),
        ("orders, search SKU", f"/admin/orders/serviceorder/{q(q=some_sku)}"),
        ("order change page (most lines)", f"/admin/orders/serviceorder/{big_order}/change/"),
        ("order history", f"/admin/orders/serviceorder/{order}/history/"),
        ("ledger", "/admin/inventory/stockmovement/"),
        ("ledger, deep page", f"/admin/inventory/stockmovement/{q(p=deep_big)}"),
        ("ledger, receipts", f"/admin/inventory/stockmovement/{q(reason__exact='receipt')}"),
        ("ledger of the busiest part", f"/admin/inventory/stockmovement/{q(spare_part__id__exact=busy_part)}"),
        ("ledger, search SKU", f"/admin/inventory/stockmovement/{q(q=busy_sku)}"),
        ("order images", "/admin/media_uploads/serviceorderimage/"),
        ("audit", "/admin/audit/auditor/"),
        ("audit, deep page", f"/admin/audit/auditor/{q(p=deep_big)}"),
        ("audit, updates", f"/admin/audit/auditor/{q(action__exact='update')}"),
        ("audit, orders", f"/admin/audit/auditor/{q(content_type__id__exact=order_ct)}"),
        ("audit, search object name", f"/admin/audit/auditor/{q(q=f'Order #{order} ')}"),
        ("audit, exact request id", f"/admin/audit/auditor/{q(q=audit_request_id)}"),
        (
            "audit of one object",
            f"/admin/audit/auditor/{q(content_type__id__exact=part_ct, object_id=busy_part)}",
        ),
    ]
    api = [
        ("parts", "/api/v1/items/?limit=50"),
        ("parts, deep offset", f"/api/v1/items/?limit=50&offset={parts // 2}"),
        ("parts, search", f"/api/v1/items/?limit=50&search={name_fragment}"),
        ("parts, ordering=-stock", "/api/v1/items/?limit=50&ordering=-stock"),
        ("parts, ordering=-date_created", "/api/v1/items/?limit=50&ordering=-date_created"),
        ("parts, one category", f"/api/v1/items/?limit=50&category={category}"),
        ("parts, low stock", "/api/v1/items/?limit=50&low_stock=true"),
        ("parts, price range", "/api/v1/items/?limit=50&min_price=10&max_price=12"),
        ("a part's movements (busiest)", f"/api/v1/items/{quote(busy_sku)}/movements/?limit=50"),
        ("orders", "/api/v1/orders/?limit=50"),
        ("orders, deep offset", f"/api/v1/orders/?limit=50&offset={orders // 2}"),
        ("orders, search client", f"/api/v1/orders/?limit=50&search={quote(client_name)}"),
        ("orders, ordering=-total", "/api/v1/orders/?limit=50&ordering=-total"),
        ("orders, status=pending", "/api/v1/orders/?limit=50&status=pending"),
        ("orders, last 7 days", f"/api/v1/orders/?limit=50&created_after={quote(week_ago)}"),
        ("orders, by SKU", f"/api/v1/orders/?limit=50&sku={quote(some_sku)}"),
        ("orders, by request_id", f"/api/v1/orders/?limit=50&request_id={request_id}"),
        ("order detail (most lines)", f"/api/v1/orders/{big_order}/"),
        ("audit", "/api/v1/audit/?limit=50"),
        ("audit, deep page (cursor)", f"/api/v1/audit/?limit=50&cursor={quote(deep_cursor)}"),
        ("audit, one object", f"/api/v1/audit/?limit=50&model=serviceorder&object_id={order}"),
        ("audit, action=update", "/api/v1/audit/?limit=50&action=update"),
        ("audit, request_id", f"/api/v1/audit/?limit=50&request_id={audit_request_id}"),
        ("audit, search", f"/api/v1/audit/?limit=50&search={quote(f'Order #{order} ')}"),
    ]
    return [("admin", label, path) for label, path in admin] + [("api", label, path) for label, path in api]


def _admin_session(base_url: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base_url}/admin/login/", timeout=30)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if page.status_code != 200 or not found:
        raise RuntimeError(f"S6: the admin login page answered {page.status_code}: {page.text[:300]}")
    token = found.group(1)
    response = session.post(
        f"{base_url}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": BENCH_USER, "password": BENCH_PASSWORD, "next": "/admin/"},
        headers={"Referer": f"{base_url}/admin/login/"},
        timeout=30,
    )
    if "/admin/login/" in response.url:
        raise RuntimeError("S6: could not log in to the admin as the bench user")
    return session


def _api_session(db):
    import requests

    session = requests.Session()
    session.headers.update({"Authorization": f"Token {bench_token(db)}", "Accept": "application/json"})
    return session


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(session, url: str, *, warmup: int, requests: int) -> dict:
    statuses: dict[str, int] = {}
    times = []
    for i in range(warmup + requests):
        began = time.perf_counter()
        response = session.get(url, timeout=60, allow_redirects=False)
        _ = response.content
        elapsed = (time.perf_counter() - began) * 1000
        if i >= warmup:
            times.append(elapsed)
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
        "statuses": statuses,
    }


def order_parts(db, count: int = 1000) -> list[int]:
    """Parts of the big data set that S1's orders can take from: ``count`` of them, spread over
    the ids, each with stock for many one-unit orders."""
    rows = db.query(
        "SELECT id FROM inventory_sparepart WHERE stock >= 100 ORDER BY hashint8(id) LIMIT %s", [count], dbname=BIG_DB
    )
    return sorted(row[0] for row in rows)


def bench_token(db) -> str:
    """A new API token of the bench user, valid for a day (only its digest is stored, as the app does)."""
    key = secrets.token_hex(20)
    _one(
        db,
        "INSERT INTO accounts_apitoken (user_id, name, digest, prefix, created_at, expires_at) "
        "SELECT id, 'bench S6', %s, %s, now(), now() + interval '1 day' FROM auth_user WHERE username = %s "
        "RETURNING id",
        [hashlib.sha256(key.encode()).hexdigest(), key[:8], BENCH_USER],
    )
    return key


def run(
    db, base_env: dict, *, requests: int = 10, warmup: int = 2, only: str | None = None, log=print, orders=None
) -> dict:
    """S6 against the big data set; the caller checks :func:`big_data_present` first.

    ``orders(server)``, when given, runs S1's order load against the same server after the
    pages (the issue's "S1 on the big data set"); its result is kept under ``"S1"``.
    """
    from bench.run import PROJECT_DIR, WORK_DIR, Gunicorn

    env = dict(base_env, DATABASE_URL=db.url(BIG_DB))
    counts = dict(
        db.query(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
            [
                [
                    "inventory_sparepart",
                    "orders_serviceorder",
                    "orders_serviceorderitem",
                    "inventory_stockmovement",
                    "audit_auditor",
                ]
            ],
            dbname=BIG_DB,
        )
    )
    size = db.query("SELECT pg_database_size(%s)", [BIG_DB], dbname=BIG_DB)[0][0]
    log(f"S6 on {BIG_DB} ({size / 2**30:.1f} GiB): " + ", ".join(f"{k} ~{v:,}" for k, v in counts.items()))
    # The data set was made by an earlier commit: bring its schema to this one's (new columns,
    # tables and indexes; an index over the big tables is built once, concurrently, and takes a while).
    started = time.monotonic()
    subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "migrate", "--noinput", "-v0"],
        cwd=PROJECT_DIR,
        env={**env, "DATABASE_STATEMENT_TIMEOUT_MS": "0"},
        check=True,
    )
    log(f"S6: {BIG_DB} migrated to this commit's schema in {time.monotonic() - started:.1f}s")
    # The admin's pages need the collected static files' manifest (DEBUG is off).
    subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), "collectstatic", "--noinput", "-v0"],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
    )
    server = Gunicorn(env, WORK_DIR / "gunicorn-s6.log").start()
    results = []
    try:
        sessions = {"admin": _admin_session(server.url), "api": _api_session(db)}
        for kind, label, path in pages(db):
            if only and only.lower() not in f"{kind} {label}".lower():
                continue
            result = measure(sessions[kind], server.url + path, warmup=warmup, requests=requests)
            budget = ADMIN_BUDGET_MS if kind == "admin" else API_BUDGET_MS
            ok_status = set(result["statuses"]) == {"200"}
            result.update(kind=kind, label=label, path=path, budget_ms=budget)
            result["met"] = ok_status and result["p95_ms"] < budget
            results.append(result)
            log(
                f"S6 {kind:5} {label:38} p50 {result['p50_ms']:8.1f} p95 {result['p95_ms']:8.1f} ms "
                f"{result['statuses']}{'' if result['met'] else '  ** over budget **'}"
            )
        s1 = orders(server) if orders else None
    finally:
        server.stop()
    return {
        "S1": s1,
        "database": BIG_DB,
        "bytes": size,
        "rows": counts,
        "requests": requests,
        "warmup": warmup,
        "pages": results,
        "over_budget": sum(1 for result in results if not result["met"]),
    }


def markdown(s6: dict) -> list[str]:
    rows = ", ".join(f"{table} ~{count:,}" for table, count in s6["rows"].items())
    lines = [
        "## S6: pages on years of data (issue 24)",
        "",
        f"Database {s6['database']} ({s6['bytes'] / 2**30:.1f} GiB; {rows}). One client, "
        f"{s6['warmup']} warm-up + {s6['requests']} requests per page. Budgets: p95 < {ADMIN_BUDGET_MS} ms (admin), "
        f"< {API_BUDGET_MS} ms (API). {s6['over_budget']} of {len(s6['pages'])} pages over budget.",
        "",
        "| | page | p50 ms | p95 ms | statuses | met |",
        "|---|---|---|---|---|---|",
    ]
    for page in s6["pages"]:
        statuses = " ".join(f"{code}: {n}" for code, n in page["statuses"].items())
        lines.append(
            f"| {page['kind']} | {page['label']} | {page['p50_ms']:.1f} | {page['p95_ms']:.1f} | {statuses} | "
            f"{'yes' if page['met'] else '**no**'} |"
        )
    s1 = s6.get("S1")
    if s1:
        lines += [
            "",
            f"S1 on the big data set (c={s1['connections']}, {s1['duration_s']:.0f} s, 1,000 parts): "
            f"{s1['rps']:.0f} orders/s, p50 {s1['p50_ms']:.1f} ms, p99 {s1['p99_ms']:.1f} ms, non-2xx {s1['non_2xx']}"
            + (
                f"; on an empty database in the same run {s1['empty_rps']:.0f} orders/s: "
                f"**{s1['of_empty']:.0%}** (target ≥ 85 %)."
                if s1.get("empty_rps")
                else "."
            ),
        ]
    return lines

"""Query plans of the pages S6 measures stay index plans (issue 24).

The big data set of ``make bench-data`` is generated here at a small scale (10,000
parts, 20,000 orders, 100,000 ledger and audit rows; a few seconds) with the same
code, into the test database, and analysed. Then every admin page and API list of
S6 (:func:`bench.s6.pages`, the same list) is requested, each SQL statement it runs
is captured with its parameters, and PostgreSQL's plan for it is checked: no
sequential scan of a big table, unless it sits under a ``LIMIT`` with no filter (the
changelists' capped count reads at most 10,001 rows at any size). Where a page has
one index that makes it fast, the plan must use that index.

The statistics are real (``VACUUM ANALYZE`` after the load), nothing is forced
(``enable_seqscan`` stays on): at this size a sequential scan is already the more
expensive plan for these queries, and at a hundred times the size more so. Two
exceptions, both bounded at any size: a scan under a ``LIMIT`` whose filter
matches at least a tenth of the table (the limit is reached after a few times its
rows), and the 10,000 parts hashed whole for a join of a page's lines (at this size
cheaper than a hundred index probes; at a million parts the planner probes).

:data:`KNOWN_SCANS` lists the pages that still scan a big table, with the reason;
the test fails as well when one of them stops scanning, so the list stays true.
"""

from __future__ import annotations

import io
import json

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from bench import s6
from bench.bigdata import BENCH_USER, TABLES, generate

SCALE = 0.01
BIG_TABLES = {
    "inventory_sparepart",
    "orders_serviceorder",
    "orders_serviceorderitem",
    "inventory_stockmovement",
    "audit_auditor",
}

# Pages whose speed rests on one index: the plan of their main query must use it.
EXPECTED_INDEXES = {
    "admin orders": {"orders_created_idx"},
    "admin ledger": {"inventory_movement_created_idx"},
    "admin audit": {"audit_time_id_idx"},
    "admin parts, search name fragment": {"inventory_part_name_trgm", "inventory_part_sku_trgm"},
    "admin parts, search SKU prefix": {"inventory_part_name_trgm", "inventory_part_sku_trgm"},
    "admin orders, search SKU": {"orders_serviceorderitem_spare_part_id_64e507bf"},
    "admin ledger, search SKU": {"inventory_movement_part_idx"},
    "admin audit, exact request id": {"audit_request_idx"},
    "admin audit, search object name": {"audit_object_repr_trgm"},
    "admin order history": {"audit_changes_order_idx", "audit_object_idx"},
    "api orders": {"orders_created_idx"},
    "api audit": {"audit_time_id_idx"},
    "api audit, action=update": {"audit_time_id_idx"},
    "api audit, deep page (cursor)": {"audit_time_id_idx"},
}


# Pages that still scan a big table, and why (see bench/README.md, S6).
KNOWN_SCANS = {
    # stock <= min_stock compares two columns of the row: no index can answer it without
    # indexing stock, which would make every order's stock update a non-HOT update.
    "admin index and dashboard": "low stock",
    "api parts, low stock": "low stock",
    # Indexing stock would make every order's stock update a non-HOT update (all of the
    # part's indexes written again): ?ordering=-stock sorts the parts (~600 ms at 1 M).
    "api parts, ordering=-stock": "no index on stock",
}


class _TestDatabase:
    """What :func:`bench.s6.pages` needs of a database, on the test connection."""

    def query(self, sql, params=None, dbname=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


@pytest.fixture(scope="module")
def big_data(django_db_setup, django_db_blocker):
    # A connection of its own: the rows must be committed (VACUUM cannot run in a
    # transaction), whatever transaction the test's connection is in.
    with django_db_blocker.unblock():
        own = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with own.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
                    " is_active, date_joined) VALUES ('!', true, %s, '', '', '', true, true, now())",
                    [BENCH_USER],
                )
            generate(own, scale=SCALE, out=io.StringIO())
            yield s6.pages(_TestDatabase())
        finally:
            with own.cursor() as cursor:
                cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
                cursor.execute("DELETE FROM auth_user WHERE username = %s", [BENCH_USER])
            own.close()


class _Capture:
    """Every SELECT sent to the database, with its parameters."""

    def __init__(self):
        self.statements: list[tuple[str, tuple]] = []

    def __call__(self, execute, sql, params, many, context):
        if not many and sql.lstrip().upper().startswith("SELECT"):
            self.statements.append((sql, params))
        return execute(sql, params, many, context)


def plan_nodes(node: dict, ancestors: tuple = ()):
    yield node, ancestors
    for child in node.get("Plans", ()):
        yield from plan_nodes(child, (*ancestors, node))


def explain(sql: str, params) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        raw = cursor.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


STOPS_OR_NEEDS_ALL = {"Limit", "Sort", "WindowAgg", "Aggregate", "Hash", "SetOp", "Materialize"}


def table_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


def unbounded_seq_scans(plan: dict) -> list[str]:
    found = []
    for node, ancestors in plan_nodes(plan):
        table = node.get("Relation Name")
        if node["Node Type"] != "Seq Scan" or table not in BIG_TABLES:
            continue
        # A LIMIT stops the scan only if nothing between them needs every row first.
        stopping = [parent["Node Type"] for parent in ancestors if parent["Node Type"] in STOPS_OR_NEEDS_ALL]
        under_limit = bool(stopping) and stopping[-1] == "Limit"
        if under_limit and ("Filter" not in node or node["Plan Rows"] >= table_rows(table) / 10):
            continue  # stops after a few times the limit's rows
        if table == "inventory_sparepart" and ancestors and ancestors[-1]["Node Type"] == "Hash":
            continue  # the whole (small) parts table hashed for a join
        found.append(f"{table} (filter {node.get('Filter', '-')})")
    return found


def indexes_used(plan: dict) -> set[str]:
    return {node["Index Name"] for node, _ in plan_nodes(plan) if "Index Name" in node}


@pytest.fixture
def clients(staff, api):
    return {"admin": staff, "api": api}


@pytest.mark.django_db
def test_every_s6_page_plans_without_scanning_a_big_table(big_data, clients):
    problems = {}
    checked = 0
    for kind, label, path in big_data:
        capture = _Capture()
        with connection.execute_wrapper(capture):
            response = clients[kind].get(path)
        assert response.status_code == 200, (label, response.status_code)
        used = set()
        for sql, params in capture.statements:
            if not any(table in sql for table in BIG_TABLES):
                continue
            plan = explain(sql, params)
            checked += 1
            used |= indexes_used(plan)
            if scans := unbounded_seq_scans(plan):
                problems.setdefault(f"{kind} {label}", []).append((scans, sql[:300]))
        expected = EXPECTED_INDEXES.get(f"{kind} {label}")
        if expected and not expected & used:
            problems.setdefault(f"{kind} {label}", []).append((f"none of {sorted(expected)} used", sorted(used)))
    assert checked > 100
    unexpected = {page: found for page, found in problems.items() if page not in KNOWN_SCANS}
    assert not unexpected, "\n".join(f"{page}: {found}" for page, found in unexpected.items())
    assert set(problems) == set(KNOWN_SCANS), "fixed meanwhile: remove from KNOWN_SCANS"


def test_the_checks_see_a_sequential_scan(big_data, db):
    # The test above must be able to fail: an unindexed filter on a big table is caught.
    counted = explain("SELECT count(*) FROM audit_auditor WHERE remote_addr = %s", ["10.0.0.7"])
    assert [scan.split()[0] for scan in unbounded_seq_scans(counted)] == ["audit_auditor"]
    assert indexes_used(explain("SELECT * FROM audit_auditor WHERE request_id = %s", ["x"])) == {"audit_request_idx"}


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["description", "client phone"])
def test_audit_search_by_field_uses_the_changed_fields_index(big_data, staff, field):
    # A field few rows changed: without audit_changed_fields_idx the search reads the whole trail
    # (the count by a sequential scan, the page along audit_time_id_idx filtering every row).
    capture = _Capture()
    with connection.execute_wrapper(capture):
        response = staff.get("/admin/audit/auditor/", {"q": field})
    assert response.status_code == 200
    plans = [explain(sql, params) for sql, params in capture.statements if "audit_auditor" in sql]
    assert len(plans) >= 2  # the capped count and the page
    for plan in plans:
        assert not unbounded_seq_scans(plan)
        assert "audit_changed_fields_idx" in indexes_used(plan)

"""Years of data (issue 24): a big, realistic database for the S6 latency scenario.

``make bench-data`` (``python -m bench.bigdata``) starts what is missing of the dev
services, recreates the database ``maintenance_bigdata`` (``BENCH_DATA_DB``),
migrates it, and fills it with :func:`generate` through the management command
``generate_bench_data``. The database is kept: ``make bench`` runs S6 on it when it
exists. At ``--scale 1``:

============================  ==========  ==============================================
table                         rows        shape
============================  ==========  ==============================================
categories                    2,000
parts                         1,000,000   20 % of the parts get 80 % of the order lines
orders                        2,000,000   three years; 95 % completed, 3 % cancelled,
                                          the newest 2 % open (pending / in progress)
order lines                   ~5,000,000  1-4 per order; one order has 100 lines
ledger movements              10,000,000  initial stock, receipts, orders, returns of
                                          cancelled orders; one part has ~50,000 rows
audit rows                    ~10,000,000 part and order creation, one per line, one
                                          status change per non-pending order
order images                  ~200,000    keys only
============================  ==========  ==============================================

Stock and ledger agree: every part's stock is the sum of its movements and each
movement's ``stock_after`` is the running sum in (time, id) order, never negative
(the initial stock covers everything the part later gives to orders).

Everything is ``INSERT … SELECT`` over ``generate_series`` with deterministic
hashes (``hashint8extended``), so the same scale gives the same data. The
secondary indexes and the foreign-key and unique constraints of the loaded tables
are dropped first and recreated from their own definitions afterwards (as the
migrations left them), then ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIG_DB = os.environ.get("BENCH_DATA_DB", "maintenance_bigdata")
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password"  # a local benchmark database only

TABLES = (
    "inventory_category",
    "inventory_sparepart",
    "orders_serviceorder",
    "orders_serviceorderitem",
    "inventory_stockmovement",
    "audit_auditor",
    "media_uploads_serviceorderimage",
)

FULL = {
    "categories": 2_000,
    "parts": 1_000_000,
    "orders": 2_000_000,
    "movements": 10_000_000,
    "images": 200_000,
}

# Words for names; arrays are 1-based in SQL.
PART_WORDS = [
    "Bolt",
    "Nut",
    "Washer",
    "Bearing",
    "Gasket",
    "Filter",
    "Belt",
    "Seal",
    "Bushing",
    "Spring",
    "Valve",
    "Hose",
    "Clamp",
    "Pulley",
    "Gear",
    "Shaft",
    "Coupling",
    "Fuse",
    "Relay",
    "Sensor",
    "Switch",
    "Pump",
    "Impeller",
    "Nozzle",
    "Bracket",
    "Pin",
    "Rivet",
    "Screw",
    "Stud",
    "Sprocket",
]
MATERIALS = ("STL", "SST", "BRS", "ALU", "NYL", "PVC", "CU", "TI")
FIRST_NAMES = [
    "Ana",
    "Luis",
    "Carlos",
    "Maria",
    "Jorge",
    "Sofia",
    "Pedro",
    "Laura",
    "Andres",
    "Camila",
    "Diego",
    "Valentina",
    "Juan",
    "Paula",
    "Miguel",
    "Daniela",
    "Jose",
    "Natalia",
    "Felipe",
    "Isabel",
    "Ricardo",
    "Gabriela",
    "Santiago",
    "Lucia",
    "Mateo",
    "Elena",
    "Tomas",
    "Carolina",
    "Pablo",
    "Julia",
]
LAST_NAMES = [
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Lopez",
    "Gonzalez",
    "Perez",
    "Sanchez",
    "Ramirez",
    "Torres",
    "Flores",
    "Rivera",
    "Gomez",
    "Diaz",
    "Reyes",
    "Morales",
    "Cruz",
    "Ortiz",
    "Gutierrez",
    "Chavez",
    "Ramos",
    "Vargas",
    "Castillo",
    "Jimenez",
    "Moreno",
    "Romero",
    "Herrera",
    "Medina",
    "Aguilar",
    "Castro",
    "Vasquez",
    "Mendoza",
    "Ruiz",
    "Alvarez",
    "Silva",
    "Rojas",
    "Suarez",
    "Navarro",
    "Delgado",
    "Vega",
    "Molina",
]
MACHINES = [
    "Lathe",
    "Milling",
    "machine",
    "Compressor",
    "Conveyor",
    "Forklift",
    "Generator",
    "Press",
    "Boiler",
    "Chiller",
    "Welder",
    "Mixer",
    "Crane",
]


def _array(words) -> str:
    return "ARRAY[" + ",".join("'" + word.replace("'", "''") + "'" for word in words) + "]"


def sizes(scale: float) -> dict[str, int]:
    return {name: max(10, round(count * scale)) for name, count in FULL.items()}


def _log(out, message: str) -> None:
    out.write(f"[bench-data {time.strftime('%H:%M:%S')}] {message}\n")
    out.flush()


class _Steps:
    def __init__(self, cursor, out):
        self.cursor = cursor
        self.out = out
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}

    def run(self, label: str, *statements: str) -> None:
        began = time.monotonic()
        for sql in statements:
            self.cursor.execute(sql)
        seconds = time.monotonic() - began
        self.timings[label] = round(seconds, 1)
        _log(self.out, f"{label}: {seconds:.1f} s (total {time.monotonic() - self.started:.0f} s)")


def _constraints_and_indexes(cursor) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """The foreign-key and unique constraints and the secondary indexes of the loaded tables."""
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('f', 'u')
        ORDER BY c.contype DESC, c.conname
        """,
        [list(TABLES)],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype <> 'f')
        ORDER BY 1
        """,
        [list(TABLES)],
    )
    return constraints, cursor.fetchall()


def generate(connection, *, scale: float, out=sys.stdout) -> dict:
    """Fill the (migrated, empty) database behind ``connection`` to ``scale`` of the issue's size."""
    n = sizes(scale)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_sparepart")
        if cursor.fetchone()[0]:
            raise RuntimeError("the database already has parts: generate into a freshly migrated database")
        cursor.execute("SELECT id FROM auth_user WHERE username = %s", [BENCH_USER])
        (uid,) = cursor.fetchone()
        cursor.execute(
            "SELECT app_label || '.' || model, id FROM django_content_type WHERE (app_label, model) IN "
            "(('inventory', 'sparepart'), ('orders', 'serviceorder'), ('orders', 'serviceorderitem'))"
        )
        ct = dict(cursor.fetchall())
        constraints, indexes = _constraints_and_indexes(cursor)

    n_parts, n_orders, n_cats = n["parts"], n["orders"], n["categories"]
    hot_parts = max(1, n_parts // 5)
    # Ledger rows that are not orders' or returns': initial stock (one per part) and receipts.
    n_receipts = max(0, n["movements"] - round(n_orders * 2.5 * 1.03) - n_parts)
    big_order = n_orders // 2  # the order with 100 lines
    _log(
        out,
        f"scale {scale}: {n_cats:,} categories, {n_parts:,} parts, {n_orders:,} orders (~{round(n_orders * 2.5):,} "
        f"lines), ~{n['movements']:,} movements, ~{round(n_orders * 4.5 + n_parts):,} audit rows, "
        f"~{n['images']:,} images",
    )

    # Autocommit: each step is its own transaction, and VACUUM needs it.
    connection.ensure_connection()
    raw = connection.connection
    previous_autocommit = raw.autocommit
    raw.autocommit = True
    with raw.cursor() as cursor:
        steps = _Steps(cursor, out)
        steps.run(
            "session settings",
            "SET statement_timeout = 0",
            "SET synchronous_commit = off",
            "SET work_mem = '512MB'",
            "SET maintenance_work_mem = '1GB'",
            "SET max_parallel_maintenance_workers = 2",
            # h(g, seed): a deterministic, well-spread non-negative bigint.
            "CREATE FUNCTION pg_temp.h(g bigint, seed bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE "
            "AS 'SELECT hashint8extended(g, seed) & 9223372036854775807'",
            # A part's price, in cents / 100: the same wherever it is needed.
            "CREATE FUNCTION pg_temp.price(p bigint) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE "
            "AS 'SELECT round(0.5 + (pg_temp.h(p, 11) % 50000) / 100.0, 2)'",
        )
        steps.run(
            "drop secondary indexes and constraints",
            *(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"' for table, name, _ in constraints),
            *(f"DROP INDEX {name}" for name, _ in indexes),
        )
        # Three years of orders ending now; parts and categories created in the year before.
        cursor.execute("SELECT date_trunc('second', now())")
        (now,) = cursor.fetchone()
        t0 = f"(TIMESTAMPTZ '{now.isoformat()}' - interval '3 years')"
        span = f"(TIMESTAMPTZ '{now.isoformat()}' - {t0})"
        steps.run(
            f"{n_cats:,} categories",
            f"""
            INSERT INTO inventory_category (id, date_created, date_updated, name, description)
            SELECT g, {t0} - interval '1 year', {t0} - interval '1 year', 'Category ' || lpad(g::text, 5, '0'),
                   'Parts of group ' || g
            FROM generate_series(1, {n_cats}) g
            """,
        )
        # Parts are staged and written once their stock is known: an UPDATE of every part
        # would leave HOT chains that make the rebuilt indexes unusable to older snapshots.
        steps.run(
            f"{n_parts:,} parts staged",
            "DROP TABLE IF EXISTS bd_parts, bd_orders, bd_lines, bd_moves",
            f"""
            CREATE UNLOGGED TABLE bd_parts AS
            SELECT g AS id, t AS date_created,
                   ({_array(PART_WORDS)})[1 + pg_temp.h(g, 1) % {len(PART_WORDS)}] || ' '
                       || ({_array(MATERIALS)})[1 + pg_temp.h(g, 2) % {len(MATERIALS)}]
                       || ' M' || (3 + pg_temp.h(g, 3) % 30) || ' x ' || (10 + 5 * (pg_temp.h(g, 4) % 40)) AS name,
                   chr(65 + (pg_temp.h(g, 5) % 26)::int) || '-'
                       || ({_array(MATERIALS)})[1 + pg_temp.h(g, 2) % {len(MATERIALS)}]
                       || '-M' || (3 + pg_temp.h(g, 3) % 30) || '-' || g AS sku,
                   pg_temp.price(g) AS price, pg_temp.h(g, 6) % 25 AS min_stock,
                   1 + pg_temp.h(g, 7) % {n_cats} AS category_id
            FROM generate_series(1, {n_parts}) g,
                 LATERAL (SELECT {t0} - interval '1 year' + (g::float8 / {n_parts}) * interval '360 days' AS t) d
            """,
        )
        # Orders and lines are staged (unlogged) first: the lines decide the totals and the ledger.
        steps.run(
            f"{n_orders:,} orders staged",
            f"""
            CREATE UNLOGGED TABLE bd_orders AS
            SELECT g,
                   {t0} + ((g - 1)::float8 / {n_orders}) * {span} AS t,
                   CASE WHEN g > {n_orders} - {n_orders // 100} THEN 'pending'
                        WHEN g > {n_orders} - {n_orders // 50} THEN 'in_progress'
                        WHEN pg_temp.h(g, 21) % 100 < 3 THEN 'cancelled'
                        ELSE 'completed' END AS status,
                   CASE WHEN g = {big_order} THEN 100 ELSE 1 + pg_temp.h(g, 22) % 4 END AS lines
            FROM generate_series(1, {n_orders}) g
            """,
        )
        steps.run(
            "order lines staged",
            f"""
            CREATE UNLOGGED TABLE bd_lines AS
            SELECT row_number() OVER () AS id, o.g AS order_id, o.t + k * interval '1 millisecond' AS t, o.status,
                   p.part, 1 + pg_temp.h(o.g * 128 + k, 33) % 3 AS quantity, pg_temp.price(p.part) AS unit_price
            FROM bd_orders o, generate_series(1, o.lines) k,
                 LATERAL (SELECT pg_temp.h(o.g * 128 + k, 31) AS r) r,
                 LATERAL (SELECT CASE
                     WHEN r.r % 100 = 0 THEN 1  -- part 1: ~1 % of all lines, ~50,000 ledger rows at scale 1
                     WHEN r.r % 1000 < 800 THEN 1 + pg_temp.h(o.g * 128 + k, 32) % {hot_parts}
                     ELSE {hot_parts} + 1 + pg_temp.h(o.g * 128 + k, 32) % {max(1, n_parts - hot_parts)}
                 END AS part) p
            ORDER BY o.g, k
            """,
        )
        steps.run(
            "orders",
            f"""
            INSERT INTO orders_serviceorder (id, date_created, date_updated, request_id, client_name, client_phone,
                client_email, description, status, total, created_by_id)
            SELECT o.g, o.t, CASE WHEN o.status IN ('completed', 'cancelled') THEN o.t + interval '1 day' ELSE o.t END,
                   md5('order' || o.g)::uuid::text,
                   f.first || ' ' || l.last,
                   '+57 3' || lpad((pg_temp.h(o.g, 43) % 1000000000)::text, 9, '0'),
                   lower(f.first || '.' || l.last) || (pg_temp.h(o.g, 44) % 1000) || '@example.com',
                   'Service of the ' || lower(({_array(MACHINES)})[1 + pg_temp.h(o.g, 45) % {len(MACHINES)}])
                       || ' #' || (1 + pg_temp.h(o.g, 46) % 500) || ': replace worn parts',
                   o.status, coalesce(s.total, 0), {uid}
            FROM bd_orders o
            LEFT JOIN (SELECT order_id, sum(quantity * unit_price) AS total FROM bd_lines GROUP BY 1) s
                   ON s.order_id = o.g,
                 LATERAL (SELECT ({_array(FIRST_NAMES)})[1 + pg_temp.h(o.g, 41) % {len(FIRST_NAMES)}] AS first) f,
                 LATERAL (SELECT ({_array(LAST_NAMES)})[1 + pg_temp.h(o.g, 42) % {len(LAST_NAMES)}] AS last) l
            ORDER BY o.g
            """,
        )
        steps.run(
            "order lines",
            """
            INSERT INTO orders_serviceorderitem (id, date_created, date_updated, order_id, spare_part_id, quantity,
                                                 unit_price)
            SELECT id, t, t, order_id, part, quantity, unit_price FROM bd_lines ORDER BY id
            """,
        )
        # Movements: each part's initial stock covers everything it gives to orders, so no
        # running sum goes below zero whatever the order of receipts and returns.
        steps.run(
            "ledger staged",
            f"""
            CREATE UNLOGGED TABLE bd_moves AS
            SELECT part, t, -quantity AS delta, 'order' AS reason, order_id, '' AS note FROM bd_lines
            UNION ALL
            SELECT part, t + interval '1 day', quantity, 'order_cancelled', order_id, '' FROM bd_lines
             WHERE status = 'cancelled'
            UNION ALL
            SELECT CASE WHEN pg_temp.h(g, 51) % 1000 < 800 THEN 1 + pg_temp.h(g, 52) % {hot_parts}
                        ELSE {hot_parts} + 1 + pg_temp.h(g, 52) % {max(1, n_parts - hot_parts)} END,
                   {t0} + (pg_temp.h(g, 53) % 1000000 / 1000000.0) * {span},
                   (1 + pg_temp.h(g, 54) % 50)::int, 'receipt', NULL::bigint, 'Delivery ' || (1 + g / 40)
            FROM generate_series(1, {n_receipts}) g
            """,
            """
            INSERT INTO bd_moves
            SELECT p.id, p.date_created, (coalesce(used.n, 0) + 1 + pg_temp.h(p.id, 55) % 200)::int, 'initial',
                   NULL, 'Opening stock'
            FROM bd_parts p
            LEFT JOIN (SELECT part, sum(quantity) AS n FROM bd_lines GROUP BY 1) used ON used.part = p.id
            """,
        )
        steps.run(
            "ledger",
            f"""
            INSERT INTO inventory_stockmovement (spare_part_id, delta, stock_after, reason, order_id, actor_id, note,
                                                 date_created)
            SELECT part, delta, stock_after, reason, order_id, {uid}, note, t
            FROM (SELECT m.*, sum(delta) OVER (PARTITION BY part ORDER BY t, reason, order_id, delta
                                     ROWS UNBOUNDED PRECEDING) AS stock_after
                  FROM bd_moves m) s
            ORDER BY t, part, reason, order_id, delta
            """,
        )
        steps.run(
            "parts, stock = Σ movements",
            """
            INSERT INTO inventory_sparepart (id, date_created, date_updated, name, sku, price, stock, min_stock,
                                             category_id)
            SELECT p.id, p.date_created, p.date_created, p.name, p.sku, p.price, s.stock, p.min_stock, p.category_id
            FROM bd_parts p JOIN (SELECT part, sum(delta) AS stock FROM bd_moves GROUP BY 1) s ON s.part = p.id
            ORDER BY p.id
            """,
        )
        item_changes = (
            "jsonb_build_object('order_id', jsonb_build_array(NULL, order_id), "
            "'spare_part_id', jsonb_build_array(NULL, part), 'quantity', jsonb_build_array(NULL, quantity), "
            "'unit_price', jsonb_build_array(NULL, unit_price::text))"
        )
        steps.run(
            "audit trail",
            f"""
            INSERT INTO audit_auditor (content_type_id, object_id, object_repr, action, changes, actor_id,
                                       request_id, remote_addr, timestamp)
            SELECT {ct["inventory.sparepart"]}, p.id::text, left(p.name || ' (' || p.sku || ')', 200), 'create',
                   jsonb_build_object('name', jsonb_build_array(NULL, p.name), 'sku', jsonb_build_array(NULL, p.sku),
                       'price', jsonb_build_array(NULL, p.price::text), 'stock', jsonb_build_array(NULL, 0),
                       'min_stock', jsonb_build_array(NULL, p.min_stock),
                       'category_id', jsonb_build_array(NULL, p.category_id)),
                   {uid}, md5('part' || p.id), '10.0.0.7', p.date_created
            FROM inventory_sparepart p ORDER BY p.id
            """,
            f"""
            INSERT INTO audit_auditor (content_type_id, object_id, object_repr, action, changes, actor_id,
                                       request_id, remote_addr, timestamp)
            SELECT CASE WHEN e.kind = 0 OR e.kind = 2 THEN {ct["orders.serviceorder"]}
                        ELSE {ct["orders.serviceorderitem"]} END,
                   e.object_id::text,
                   CASE WHEN e.kind = 1 THEN e.quantity || ' x part ' || e.part
                        ELSE 'Order #' || e.order_id || ' (' || o.client_name || ')' END,
                   CASE WHEN e.kind = 2 THEN 'update' ELSE 'create' END,
                   CASE e.kind
                       WHEN 0 THEN jsonb_build_object('request_id', jsonb_build_array(NULL, o.request_id),
                           'client_name', jsonb_build_array(NULL, o.client_name),
                           'status', jsonb_build_array(NULL, 'pending'),
                           'total', jsonb_build_array(NULL, o.total::text),
                           'created_by_id', jsonb_build_array(NULL, o.created_by_id))
                       WHEN 1 THEN {item_changes}
                       ELSE jsonb_build_object('status', jsonb_build_array('pending', o.status)) END,
                   {uid},
                   md5('request' || e.order_id || CASE WHEN e.kind = 2 THEN 'u' ELSE '' END),
                   ('10.0.' || (e.order_id % 250) || '.' || (1 + e.order_id % 200))::inet,
                   e.t
            FROM (
                SELECT 0 AS kind, g AS order_id, g AS object_id, 0 AS seq, t, NULL::bigint AS part,
                       NULL::bigint AS quantity, NULL::numeric AS unit_price
                FROM bd_orders
                UNION ALL
                SELECT 1, order_id, id, 1, t, part, quantity, unit_price FROM bd_lines
                UNION ALL
                SELECT 2, g, g, 2, t + interval '1 day', NULL, NULL, NULL FROM bd_orders WHERE status <> 'pending'
            ) e
            JOIN orders_serviceorder o ON o.id = e.order_id
            ORDER BY e.t, e.order_id, e.seq, e.object_id
            """,
        )
        steps.run(
            "order images",
            f"""
            INSERT INTO media_uploads_serviceorderimage (date_created, date_updated, order_id, image, thumbnail,
                original_name, content_type, size_bytes, width, height, uploaded_by_id)
            SELECT o.t, o.t, o.g, 'orders/' || o.g || '/' || md5('image' || o.g) || '.jpg',
                   'orders/' || o.g || '/' || md5('image' || o.g) || '.thumb.jpg',
                   'IMG_' || (1000 + o.g % 9000) || '.jpg', 'image/jpeg', 150000 + pg_temp.h(o.g, 61) % 3000000,
                   4032, 3024, {uid}
            FROM bd_orders o
            WHERE pg_temp.h(o.g, 62) % {max(1, round(n_orders / n["images"]))} = 0
            ORDER BY o.g
            """,
        )
        steps.run("drop staging tables", "DROP TABLE bd_parts, bd_orders, bd_lines, bd_moves")
        steps.run(
            "sequences",
            *(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                for table in TABLES
            ),
        )
        steps.run(
            "recreate indexes and constraints",
            *(definition for _, definition in indexes),
            *(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in constraints),
        )
        steps.run("VACUUM ANALYZE", *(f"VACUUM (ANALYZE) {table}" for table in TABLES))
        counts = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    raw.autocommit = previous_autocommit
    seconds = time.monotonic() - started
    _log(out, "rows: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
    _log(out, f"done in {seconds / 60:.1f} min; database size {size / 2**30:.2f} GiB")
    return {"scale": scale, "seconds": round(seconds, 1), "bytes": size, "rows": counts, "steps": steps.timings}


# --- `make bench-data`: a fresh database, migrated, then the command ----------------------------

CREATE_USER_SCRIPT = """
from django.contrib.auth import get_user_model
get_user_model().objects.create_superuser(username=%r, email="", password=%r)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bigdata", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the issue's full size (default)")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_STORAGE_BUCKET_NAME", "maintenance-bench")
    from maintenance.dev import localservices as devservices

    state, started_services = devservices.start()
    socket_dir = state["postgres"]["socket_dir"]
    try:
        with devservices._pg_connect(socket_dir) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BIG_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BIG_DB}"')
        env = {
            **os.environ,
            **devservices.service_env(state),
            "DATABASE_URL": devservices._pg_database_url(socket_dir, BIG_DB),
            "DATABASE_STATEMENT_TIMEOUT_MS": "0",
        }
        manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=PROJECT_DIR, env=env, check=True)
        subprocess.run(
            [*manage, "shell", "-c", CREATE_USER_SCRIPT % (BENCH_USER, BENCH_PASSWORD)],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
        )
        subprocess.run(
            [*manage, "generate_bench_data", "--scale", str(args.scale)], cwd=PROJECT_DIR, env=env, check=True
        )
    except KeyboardInterrupt:
        return 130
    finally:
        if started_services:
            with contextlib.suppress(Exception):
                devservices.stop(started_services)
    return 0


if __name__ == "__main__":
    sys.exit(main())

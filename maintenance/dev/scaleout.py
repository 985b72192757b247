"""PgBouncer in transaction mode and nginx balancing app servers: the compose topology on one machine.

The scale-out tests (``tests/scale/``) and the bench run the app as several gunicorn servers
behind these two, from Debian's packages (``make scale-deps`` installs them; nothing is
downloaded). Each instance writes its configuration, log and temporary files in a folder of
its own, listens on 127.0.0.1 on a port the OS gave, runs in its own process group and is
stopped by whoever started it.

PgBouncer connects to the embedded PostgreSQL through its Unix socket. Run by root, it must
switch user (it refuses to run as root): it runs as the socket folder's owner, the one user
that can reach the socket (the folder is PostgreSQL's data folder, mode 0700).
"""

from __future__ import annotations

import configparser
import contextlib
import io
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg

PROJECT_DIR = Path(__file__).resolve().parents[2]
# Compose's PgBouncer settings: the tests run the app behind the same ones.
COMPOSE_PGBOUNCER_INI = PROJECT_DIR / "docker" / "pgbouncer" / "pgbouncer.ini"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def debian_binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise RuntimeError(f"{name} is not installed: run `make scale-deps` (Debian package {name})")
    return found


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.stem} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{log.stem} did not listen on {port} within {timeout} s")


class _Process:
    """A child in its own process group, its output in ``<work_dir>/<name>.log``."""

    name = ""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir.resolve()
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        # Read by a process that may run as another user (PgBouncer's, nginx's workers).
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.chmod(0o755)

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"{self.name}.log"

    def write(self, name: str, text: str) -> Path:
        path = self.work_dir / name
        path.write_text(text)
        path.chmod(0o644)
        return path

    def spawn(self, cmd: list[str]) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.proc, self.log_path)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class PgBouncer(_Process):
    """PgBouncer, transaction pooling, in front of the PostgreSQL listening in ``socket_dir``."""

    name = "pgbouncer"

    def __init__(self, work_dir: Path, *, socket_dir: str, pg_port: int = 5432, pool_size: int | None = None) -> None:
        super().__init__(work_dir)
        self.socket_dir = socket_dir
        self.pg_port = pg_port
        self.pool_size = pool_size

    def config(self) -> str:
        """docker/pgbouncer/pgbouncer.ini, pointed at this machine's PostgreSQL and port.

        Every database is passed through as the PostgreSQL user "postgres" (the embedded server
        trusts its socket); clients are not authenticated (127.0.0.1 only, tests). The pooling
        settings (transaction mode, pool size, the statement timeout) are compose's.
        """
        ini = configparser.ConfigParser(delimiters=("=",), comment_prefixes=(";",), interpolation=None)
        ini.optionxform = str  # PgBouncer's names are case-sensitive, "*" included
        ini.read_string(COMPOSE_PGBOUNCER_INI.read_text())
        target = ini["databases"]["*"]
        target = re.sub(r"\bhost=\S+", f"host={self.socket_dir}", target)
        target = re.sub(r"\bport=\d+", f"port={self.pg_port}", target)
        ini["databases"]["*"] = f"{target} user=postgres"
        ini["pgbouncer"].update(
            listen_addr="127.0.0.1",
            listen_port=str(self.port),
            unix_socket_dir="",
            auth_type="trust",
            auth_file=str(self.work_dir / "userlist.txt"),
            admin_users="postgres",
        )
        if self.pool_size:
            ini["pgbouncer"]["default_pool_size"] = str(self.pool_size)
        text = io.StringIO()
        ini.write(text)
        return text.getvalue()

    @staticmethod
    def statement_timeout_ms() -> int:
        """The statement timeout compose's PgBouncer gives each server connection."""
        return int(re.search(r"statement_timeout = (\d+)", COMPOSE_PGBOUNCER_INI.read_text())[1])

    def start(self) -> PgBouncer:
        self.write("userlist.txt", '"postgres" ""\n')
        ini = self.write("pgbouncer.ini", self.config())
        cmd = [debian_binary("pgbouncer")]
        if os.geteuid() == 0:
            owner = pwd.getpwuid(os.stat(self.socket_dir).st_uid).pw_name
            cmd += ["-u", owner if owner != "root" else "nobody"]
        self.spawn([*cmd, str(ini)])
        return self

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def show(self, what: str) -> list[dict]:
        """A ``SHOW`` of PgBouncer's admin console (POOLS, STATS, SERVERS…), one dict per row."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="pgbouncer", autocommit=True
        ) as conn:
            cursor = conn.execute(f"SHOW {what}")  # the admin console takes no parameters
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class Nginx(_Process):
    """nginx balancing ``upstreams`` (``host:port``) round robin, as docker/nginx/default.conf does.

    Each answer carries ``X-Upstream`` (the server that gave it) so a test can tell the servers apart.
    """

    name = "nginx"

    def __init__(self, work_dir: Path, upstreams: list[str]) -> None:
        super().__init__(work_dir)
        self.upstreams = upstreams
        self.url = f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        # max_fails=0: a server that was down is tried again at once when it is back (a refused
        # connection still moves the request on to the next one), and turns are strict.
        servers = "\n".join(f"        server {address} max_fails=0;" for address in self.upstreams)
        kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = "\n".join(f"    {kind}_temp_path {self.work_dir / kind};" for kind in kinds)
        # Run by root, the master switches its worker to an unprivileged user.
        user = "user www-data;\n" if os.geteuid() == 0 else ""
        return f"""\
{user}daemon off;
worker_processes 1;
pid {self.work_dir / "nginx.pid"};
error_log {self.work_dir / "nginx-error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    upstream app {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        client_max_body_size 12m;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 35s;
            # As in compose: a server that is gone is skipped (a POST only if it was never sent).
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""

    def start(self) -> Nginx:
        conf = self.write("nginx.conf", self.config())
        prefix = str(self.work_dir)
        self.spawn([debian_binary("nginx"), "-p", prefix, "-e", f"{prefix}/nginx-error.log", "-c", str(conf)])
        return self

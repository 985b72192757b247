"""The Docker files, checked without a Docker engine.

There is no Docker here, so the image is never built in the suite. Instead the
files are read the way Docker and Compose read them: docker-compose.yml parsed
as YAML with Compose's ``${VAR:-default}`` interpolation applied, the Dockerfile
as instructions, and the settings module's source for the variables it reads.
What can run without Docker does run: the entrypoint script (against a stand-in
``python``) and the health-check script (against a real gunicorn).
"""

from __future__ import annotations

import ast
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlsplit

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = ROOT / "docker"
HEALTHCHECK_SCRIPT = DOCKER_DIR / "healthcheck.py"
ENTRYPOINT = DOCKER_DIR / "entrypoint.sh"

sys.path.insert(0, str(DOCKER_DIR))
import healthcheck  # noqa: E402 - docker/ is not a package

# --- reading the files ---------------------------------------------------------

_INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


def interpolate(value, environ: dict[str, str]):
    """Compose's variable substitution: ``$$``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        current = environ.get(name)
        if op in (":-", "-"):
            use_default = current is None or (op == ":-" and current == "")
            return arg if use_default else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and current == ""):
                raise LookupError(f"{name}: {arg}")
            return current
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


def load_compose(environ: dict[str, str] | None = None) -> dict:
    """docker-compose.yml as Compose sees it with only ``environ`` set (no .env file)."""
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return interpolate(raw, {"SECRET_KEY": "compose-test-secret"} if environ is None else environ)


def service_env(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split())))
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def _call_default(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "default":
            return keyword.value
    return call.args[1] if len(call.args) > 1 else None


def settings_env_reads() -> dict[str, bool]:
    """Variable name -> required, for every ``env(...)`` / ``env.<cast>(...)`` in settings.py.

    Required means no default, or a default that is ``Env.NOTSET`` in production
    (SECRET_KEY has a default only when DEBUG is on).
    """
    tree = ast.parse((ROOT / "maintenance" / "settings.py").read_text())
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        first = node.args[0]
        if not is_env or not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        default = _call_default(node)
        required = default is None or "NOTSET" in ast.unparse(default)
        found[first.value] = found.get(first.value, False) or required
    return found


def os_environ_reads(path: Path) -> set[str]:
    """Names read with os.environ.get/[]/in or os.getenv in a Python file."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()

    def is_environ(node) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and (
                (func.attr == "get" and is_environ(func.value)) or func.attr == "getenv"
            ):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            key = node.left
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def env_example_entries() -> dict[str, str]:
    """Variable name -> value as written in .env.example (commented-out entries included)."""
    entries = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            entries[match[1]] = match[2]
    return entries


REQUIRED_SETTINGS = {name for name, required in settings_env_reads().items() if required}
APP_SERVICES = ("app", "migrate")


# --- the variables -------------------------------------------------------------


def test_settings_parser_sees_what_settings_read():
    reads = settings_env_reads()
    # Guards the parser itself: these are read in every form settings.py uses.
    assert {"DEBUG", "ALLOWED_HOSTS", "CONN_MAX_AGE", "STATIC_ROOT", "LOG_LEVEL"} <= set(reads)
    assert {"SECRET_KEY", "DATABASE_URL", "AWS_STORAGE_BUCKET_NAME"} <= REQUIRED_SETTINGS
    assert not reads["DEBUG"] and not reads["ALLOWED_HOSTS"]


def test_env_example_names_every_variable_the_code_reads():
    read = set(settings_env_reads())
    for path in [
        ROOT / "gunicorn.conf.py",
        ROOT / "maintenance" / "dev" / "localservices.py",
        HEALTHCHECK_SCRIPT,
        *sorted((ROOT / "maintenance").glob("*/management/commands/*.py")),
    ]:
        read |= os_environ_reads(path)
    # The entrypoint's ${VAR:-...} and the ${VAR...} in compose values (not the escaped $${VAR}).
    variable = r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)"
    read |= set(re.findall(variable, ENTRYPOINT.read_text()))
    read |= set(re.findall(variable, yaml.safe_dump(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))))
    assert {"GUNICORN_BIND", "DEV_DB_NAME", "DJANGO_SUPERUSER_PASSWORD", "RUN_MIGRATIONS", "POSTGRES_PASSWORD"} <= read
    missing = sorted(read - set(env_example_entries()))
    assert not missing, f".env.example does not mention {missing}"


def test_env_example_explains_every_variable():
    lines = (ROOT / ".env.example").read_text().splitlines()
    entry = re.compile(r"^#?\s*[A-Z][A-Z0-9_]*=")
    for index, line in enumerate(lines):
        if entry.match(line):
            above = lines[index - 1] if index else ""
            assert above.startswith("#") and not entry.match(above), f"no comment above {line!r}"


def test_env_example_keeps_debug_off_and_secrets_blank():
    entries = env_example_entries()
    assert entries["DEBUG"].lower() in ("false", "0", "off", "")
    # No shared, working secret key for people to copy into production.
    assert entries["SECRET_KEY"] == ""


# --- docker-compose.yml ----------------------------------------------------------


def test_compose_has_the_stack():
    services = load_compose()["services"]
    assert {"postgres", "pgbouncer", "s3", "migrate", "app", "proxy"} <= set(services)
    assert re.fullmatch(r"postgres:(17|18)(\.\d+)*(-\w+)?", services["postgres"]["image"])
    assert "seaweedfs" in services["s3"]["image"] or "minio" in services["s3"]["image"]
    assert services["app"]["build"] in (".", {"context": "."})
    assert services["migrate"]["image"] == services["app"]["image"]


def test_only_services_holding_the_s3_keys_can_reach_the_s3_server():
    """Issue 22: SeaweedFS's filer (no authentication) listened beside the S3 gateway for every container.

    `weed mini` binds all its servers to one address, so the filer cannot be hidden inside the
    container: no service without the S3 keys may share a network with it.
    """
    compose = load_compose()
    services = compose["services"]
    assert services["s3"]["networks"] == ["storage", "s3-public"]
    # The network that publishes the S3 port holds nothing else.
    assert [name for name, s in services.items() if "s3-public" in s.get("networks", [])] == ["s3"]
    for name, service in services.items():
        networks = set(service.get("networks", ["default"]))
        if name != "s3" and "storage" in networks:
            assert service_env(service)["AWS_SECRET_ACCESS_KEY"], name
    assert {"proxy", "postgres"}.isdisjoint(name for name, s in services.items() if "storage" in s.get("networks", []))
    # Nor can the proxy reach PostgreSQL; the back networks have no way out.
    assert "database" not in services["proxy"]["networks"]
    assert compose["networks"]["storage"]["internal"] is True
    assert compose["networks"]["database"]["internal"] is True


def test_photo_links_are_signed_for_the_s3_port_the_browser_reaches():
    """Issue 23: links were signed for http://s3:8333, a name only the containers resolve."""
    services = load_compose()["services"]
    public = urlsplit(service_env(services["app"])["AWS_S3_PUBLIC_ENDPOINT_URL"])
    assert (public.hostname, f"127.0.0.1:{public.port}:8333") == ("127.0.0.1", services["s3"]["ports"][0])


def test_compose_refuses_to_start_without_a_secret_key():
    with pytest.raises(LookupError, match="SECRET_KEY"):
        load_compose({})


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_sets_every_required_setting(name):
    env = service_env(load_compose()["services"][name])
    expected = REQUIRED_SETTINGS | {
        "DATABASE_URL",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_S3_ENDPOINT_URL",
        "AWS_S3_REGION_NAME",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_S3_ADDRESSING_STYLE",
    }
    missing = sorted(name for name in expected if not env.get(name))
    assert not missing, f"{name} service lacks {missing}"
    assert env["SECRET_KEY"] == "compose-test-secret"
    assert env["AWS_S3_ADDRESSING_STYLE"] == "path"
    assert set(env) <= set(settings_env_reads()) | set(env_example_entries()), "unknown variables"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_of_env_example_reaches_the_app(name):
    """Issue 22, finding 5: SESSION_COOKIE_SECURE, SECURE_*, AXES_*, THROTTLE_* … set in .env never reached
    the containers (no env_file, and .env is not in the image)."""
    service = load_compose()["services"][name]
    env_files = [entry if isinstance(entry, dict) else {"path": entry} for entry in service.get("env_file", [])]
    assert {"path": ".env", "required": False} in env_files, f"{name} does not read .env"
    # What .env.example documents is what .env can set, and so what the app receives.
    for hardening in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "AXES_FAILURE_LIMIT"):
        assert hardening in env_example_entries(), hardening


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_is_wired_to_the_postgres_and_s3_services(name):
    services = load_compose()["services"]
    env = service_env(services[name])
    pg_env = service_env(services["postgres"])
    db = urlparse(env["DATABASE_URL"])
    assert db.scheme in ("postgres", "postgresql")
    # The replicas through the pooler; the release job (long migrations, once) directly.
    assert (db.hostname, db.port or 5432) == ({"app": "pgbouncer", "migrate": "postgres"}[name], 5432)
    assert db.username == pg_env["POSTGRES_USER"]
    assert db.password == pg_env["POSTGRES_PASSWORD"]
    assert db.path.lstrip("/") == pg_env["POSTGRES_DB"]

    s3 = services["s3"]
    s3_env = service_env(s3)
    endpoint = urlparse(env["AWS_S3_ENDPOINT_URL"])
    assert (endpoint.hostname, endpoint.port) == ("s3", 8333)
    # The server accepts only the keys it was started with: both sides get the same ones.
    assert env["AWS_ACCESS_KEY_ID"] == s3_env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"] == s3_env["AWS_SECRET_ACCESS_KEY"]
    # The bucket the app uses is the one the server creates at start.
    assert f"-bucket={env['AWS_STORAGE_BUCKET_NAME']}" in s3["command"]
    assert "mini" in s3["command"]


def test_the_replicas_reach_postgresql_through_pgbouncer_in_transaction_mode():
    """Issue 23: compose runs the topology tests/scale/ proves (there with Debian's PgBouncer and this file)."""
    services = load_compose()["services"]
    pgbouncer, app, postgres = services["pgbouncer"], services["app"], services["postgres"]
    assert pgbouncer["image"].startswith("edoburu/pgbouncer:v1.")
    assert "./docker/pgbouncer/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro" in pgbouncer["volumes"]
    assert pgbouncer["networks"] == ["database"] and "ports" not in pgbouncer
    # It logs in to PostgreSQL with the app's credentials (its image writes them to userlist.txt).
    bouncer_env, pg_env = service_env(pgbouncer), service_env(postgres)
    assert (bouncer_env["DB_HOST"], bouncer_env["DB_USER"], bouncer_env["DB_PASSWORD"]) == (
        "postgres",
        pg_env["POSTGRES_USER"],
        pg_env["POSTGRES_PASSWORD"],
    )
    assert service_env(app)["DATABASE_TRANSACTION_POOLER"] == "true"
    assert "DATABASE_TRANSACTION_POOLER" not in service_env(services["migrate"])
    assert app["depends_on"]["pgbouncer"]["condition"] == "service_healthy"
    assert "pg_isready" in pgbouncer["healthcheck"]["test"]

    ini = (DOCKER_DIR / "pgbouncer" / "pgbouncer.ini").read_text()
    assert re.search(r"^pool_mode = transaction$", ini, re.MULTILINE)
    assert re.search(r"^auth_type = scram-sha-256$", ini, re.MULTILINE)
    assert re.search(r"^\* = host=postgres port=5432 ", ini, re.MULTILINE)
    # The statement timeout the app cannot send through the pooler is the app's own default.
    timeout = re.search(r"connect_query='SET statement_timeout = (\d+)'", ini)[1]
    assert timeout == env_example_entries()["DATABASE_STATEMENT_TIMEOUT_MS"] == "5000"


def test_interpolated_values_follow_the_environment():
    services = load_compose(
        {"SECRET_KEY": "k", "POSTGRES_PASSWORD": "pw9", "AWS_STORAGE_BUCKET_NAME": "photos", "PORT": "9000"}
    )["services"]
    env = service_env(services["app"])
    assert urlparse(env["DATABASE_URL"]).password == "pw9"
    assert service_env(services["postgres"])["POSTGRES_PASSWORD"] == "pw9"
    assert "-bucket=photos" in services["s3"]["command"] and env["AWS_STORAGE_BUCKET_NAME"] == "photos"
    assert services["proxy"]["ports"] == ["127.0.0.1:9000:8000"]


def test_debug_is_never_on_by_default():
    for name, service in load_compose()["services"].items():
        assert service_env(service).get("DEBUG", "false").lower() in ("false", "0", ""), name
    env_lines = [args for keyword, args in dockerfile_stages()[-1] if keyword == "ENV"]
    assert any(re.search(r"\bDEBUG=false\b", args) for args in env_lines)
    assert not re.search(r"DEBUG=(true|1|on)\b", (ROOT / "Dockerfile").read_text(), re.IGNORECASE)


def test_services_have_healthchecks_and_start_in_order():
    services = load_compose()["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8333/healthz" in services["s3"]["healthcheck"]["test"]
    assert services["app"]["healthcheck"]["test"] == ["CMD", "python", "/app/docker/healthcheck.py"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["s3"]["condition"] == "service_healthy"
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_migrations_run_once_not_in_every_replica():
    services = load_compose()["services"]
    assert services["migrate"]["command"] == ["release"]
    assert services["migrate"]["restart"] == "no"
    assert service_env(services["app"])["RUN_MIGRATIONS"] == "0"


def test_app_can_be_scaled_behind_the_proxy():
    services = load_compose()["services"]
    app = services["app"]
    # A fixed host port or container name would make a second replica fail to start.
    assert "ports" not in app and "container_name" not in app
    assert "volumes" not in app, "the app keeps no local state"
    assert "8000" in [str(port) for port in app["expose"]]
    assert service_env(app)["GUNICORN_BIND"] == "0.0.0.0:8000"
    # Bounded workers per replica: three replicas stay well within max_connections=100.
    assert int(service_env(app)["WEB_CONCURRENCY"]) * 3 < 100

    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert proxy["ports"] == ["127.0.0.1:8000:8000"]
    assert "./docker/nginx/default.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]


def test_nginx_resolves_the_replicas_through_docker_dns():
    conf = (DOCKER_DIR / "nginx" / "default.conf").read_text()
    assert re.search(r"^resolver 127\.0\.0\.11\b", conf, re.MULTILINE)
    assert re.search(r"^\s*listen 8000;", conf, re.MULTILINE)
    # proxy_pass through a variable: resolved at request time, so new replicas are found.
    upstream = re.search(r"set \$(\w+) http://app:8000;", conf)
    assert upstream and f"proxy_pass ${upstream[1]};" in conf
    # The Host header keeps the port, which Django's CSRF origin check compares.
    assert "proxy_set_header Host $http_host;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf


def test_nginx_lets_the_largest_allowed_image_through():
    size = re.search(r"client_max_body_size (\d+)([km]?);", (DOCKER_DIR / "nginx" / "default.conf").read_text())
    limit = int(size[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[size[2]]
    assert limit > settings.MAX_IMAGE_UPLOAD_BYTES


def test_postgres_data_volume_matches_the_image_layout():
    postgres = load_compose()["services"]["postgres"]
    major = int(re.match(r"postgres:(\d+)", postgres["image"])[1])
    target = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    assert [volume.split(":")[1] for volume in postgres["volumes"]] == [target]


# --- Dockerfile ------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_312_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    froms = [stage[0][1] for stage in stages]
    assert froms[0].endswith("AS builder")
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in (ROOT / "Dockerfile").read_text()
    builder = " ".join(args for _, args in stages[0])
    assert "python -m venv /opt/venv" in builder and "--require-hashes -r /tmp/requirements/base.lock" in builder
    runtime = stages[-1]
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    # No compiler or dev requirements in what ships.
    assert "dev.txt" not in (ROOT / "Dockerfile").read_text()


def test_dockerfile_runs_as_a_non_root_user():
    runtime = dockerfile_stages()[-1]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    position = runtime.index(("USER", users[-1]))
    # The user is switched to before the server command is defined.
    assert position < [keyword for keyword, _ in runtime].index("CMD")


def test_dockerfile_health_check_and_port():
    runtime = dockerfile_stages()[-1]
    healthchecks = [args for keyword, args in runtime if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and '"python", "/app/docker/healthcheck.py"' in healthchecks[0]
    assert "/health/" in HEALTHCHECK_SCRIPT.read_text()
    assert ("EXPOSE", "8000") in runtime
    assert any("GUNICORN_BIND=0.0.0.0:8000" in args for keyword, args in runtime if keyword == "ENV")


def test_dockerfile_collects_static_files_with_throwaway_settings():
    runtime = dockerfile_stages()[-1]
    (collect,) = [args for keyword, args in runtime if keyword == "RUN" and "collectstatic" in args]
    assert "python manage.py collectstatic --noinput" in collect
    for name in REQUIRED_SETTINGS:
        assert f"{name}=" in collect, f"collectstatic would stop on missing {name}"
    # The values exist only for that command: none of them is an ENV of the image.
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    assert not any(f"{name}=" in env for name in REQUIRED_SETTINGS)


def test_dockerfile_and_entrypoint_use_the_makefile_commands():
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    entrypoint = ENTRYPOINT.read_text()
    for command in ("migrate --noinput", "collectstatic --noinput", "gunicorn -c gunicorn.conf.py maintenance.wsgi"):
        assert command in makefile, command
    assert "manage.py migrate --noinput" in entrypoint
    assert "manage.py load_demo_data" in entrypoint and "manage.py ensure_admin" in entrypoint
    runtime = dockerfile_stages()[-1]
    assert ("CMD", '["gunicorn", "-c", "gunicorn.conf.py", "maintenance.wsgi"]') in runtime
    assert ("ENTRYPOINT", '["/app/docker/entrypoint.sh"]') in runtime
    assert "manage.py collectstatic --noinput" in dockerfile


def test_dockerignore_keeps_state_and_secrets_out_of_the_image():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if not line.startswith("#")}
    assert {".env", ".state", ".venv", ".git"} <= ignored
    # What the image needs is not ignored.
    assert not ignored & {"docker", "docker/", "requirements", "maintenance", "manage.py", "gunicorn.conf.py"}


# --- the entrypoint, run for real against a stand-in python --------------------


@pytest.fixture
def run_entrypoint(tmp_path):
    """Run docker/entrypoint.sh with a ``python`` that records its arguments."""
    calls = tmp_path / "calls.log"
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(
        '#!/bin/sh\necho "python $*" >> "$CALLS"\n'
        'case "$*" in *migrate*) [ -z "${FAIL_MIGRATE:-}" ] || exit 3 ;; esac\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)

    def run(*args: str, **env: str) -> tuple[int, list[str]]:
        environ = {"PATH": f"{fake.parent}:{os.environ['PATH']}", "CALLS": str(calls), **env}
        result = subprocess.run(["sh", str(ENTRYPOINT), *args], env=environ, capture_output=True, text=True, timeout=30)
        lines = calls.read_text().splitlines() if calls.exists() else []
        calls.unlink(missing_ok=True)
        return result.returncode, lines

    return run


def test_entrypoint_migrates_then_execs_the_command(run_entrypoint):
    code, calls = run_entrypoint("python", "-c", "server", RUN_MIGRATIONS="1")
    assert code == 0
    assert calls == ["python manage.py migrate --noinput", "python -c server"]


def test_entrypoint_skips_migrations_when_told(run_entrypoint):
    code, calls = run_entrypoint("python", "-c", "server", RUN_MIGRATIONS="0", LOAD_DEMO_DATA="1")
    assert (code, calls) == (0, ["python -c server"])


def test_entrypoint_release_runs_the_optional_steps_and_exits(run_entrypoint):
    code, calls = run_entrypoint("release", RUN_MIGRATIONS="0")
    assert (code, calls) == (0, ["python manage.py migrate --noinput"])
    code, calls = run_entrypoint("release", LOAD_DEMO_DATA="1", DJANGO_SUPERUSER_PASSWORD="s3cret-pw")
    assert code == 0
    assert calls == [
        "python manage.py migrate --noinput",
        "python manage.py load_demo_data",
        "python manage.py ensure_admin",
    ]


def test_entrypoint_does_not_serve_when_migrations_fail(run_entrypoint):
    code, calls = run_entrypoint("python", "-c", "server", RUN_MIGRATIONS="1", FAIL_MIGRATE="1")
    assert code == 3
    assert calls == ["python manage.py migrate --noinput"]


# --- the health-check script ---------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "port"),
    [
        ({}, 8000),
        ({"PORT": "9001"}, 9001),
        ({"GUNICORN_BIND": "0.0.0.0:8000", "PORT": "9001"}, 8000),
        ({"GUNICORN_BIND": "[::]:8123"}, 8123),
    ],
)
def test_healthcheck_finds_the_gunicorn_port(environ, port):
    assert healthcheck.target_port(environ) == port


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("", "localhost"),
        ("*", "localhost"),
        ("api.example.com,x", "api.example.com"),
        (".example.com", "health.example.com"),
    ],
)
def test_healthcheck_sends_an_allowed_host(allowed, host):
    assert healthcheck.host_header({"ALLOWED_HOSTS": allowed}) == host


@pytest.mark.live
def test_healthcheck_script_against_a_running_server(live_server_url):
    port = urlparse(live_server_url).port
    env = {**os.environ, "GUNICORN_BIND": f"0.0.0.0:{port}", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    ok = subprocess.run([sys.executable, str(HEALTHCHECK_SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("200 ") and '"database": {"status": "ok"' in ok.stdout

    # A Host that ALLOWED_HOSTS of the server rejects is a failed check, not a pass.
    env["ALLOWED_HOSTS"] = "elsewhere.example.com"
    rejected = subprocess.run([sys.executable, str(HEALTHCHECK_SCRIPT)], env=env, capture_output=True, text=True)
    assert rejected.returncode == 1 and rejected.stdout.startswith("400 ")


def test_healthcheck_script_fails_when_nothing_listens():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        result = subprocess.run([sys.executable, str(HEALTHCHECK_SCRIPT)], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "ConnectionRefusedError" in result.stdout


def _pins(path: Path) -> dict[str, str]:
    """name -> version of the ``name==version`` lines of a requirements or lock file (others skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return pins


@pytest.mark.parametrize("name", ["base", "dev"])
def test_the_lock_pins_what_the_requirements_pin_with_hashes(name):
    """Issue 22: transitive dependencies were not pinned. make and the Dockerfile install the locks with
    --require-hashes; a pin changed in requirements/*.txt without `make lock` fails here."""
    wanted = _pins(ROOT / "requirements" / f"{name}.txt")
    if name == "dev":
        wanted |= _pins(ROOT / "requirements" / "base.txt")
    lock = ROOT / "requirements" / f"{name}.lock"
    locked = _pins(lock)
    assert {package: locked.get(package) for package in wanted} == wanted
    # Every locked package carries its hashes (pip --require-hashes refuses one without).
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text().split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry.split("\n", 1)[0])
    assert len(locked) > len(wanted)  # the transitive ones too

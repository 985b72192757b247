"""Fixtures shared by every app's tests.

The suite runs against the real PostgreSQL and S3 of ``maintenance.dev.localservices``
(``make test`` starts them). ``live_server_url`` starts gunicorn with two worker
processes on the test database, for tests that need real parallel requests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from maintenance.accounts.roles import ROLE_PERMISSIONS
from maintenance.accounts.services import issue_api_token

PROJECT_DIR = Path(__file__).resolve().parent
# The migrated data as Django serialized it when it created the test database (see
# pytest_runtest_teardown): kept here too, as the connection object that holds it is per thread
# and per context, and a browser test's Playwright runs the test in another context.
SERIALIZED_CONTENTS: dict[str, str] = {}


def flushing_without_restore(item) -> bool:
    """Whether a test would flush the database without putting the migrated data back.

    Such a test empties the content types; the next one to need them creates new
    ids, and the session's live gunicorn workers, which cached the old ids, then
    write audit rows that point at missing content types.
    """
    marker = item.get_closest_marker("django_db")
    kwargs = marker.kwargs if marker else {}
    transactional = kwargs.get("transaction") or "transactional_db" in getattr(item, "fixturenames", ())
    restored = kwargs.get("serialized_rollback") or "django_db_serialized_rollback" in getattr(item, "fixturenames", ())
    return bool(transactional and not restored)


def pytest_runtest_setup(item):
    if flushing_without_restore(item):
        pytest.fail(
            "A transaction=True test must also set serialized_rollback=True: its flush would empty the "
            "content types under the session's live server (see flushing_without_restore in conftest.py).",
            pytrace=False,
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Put the migrated data back right after a flushing (live) test.

    A ``transaction=True`` test ends with a flush that empties every table,
    content types, groups and permissions included; Django puts the serialized
    copy back only when the *next* serialized test starts. In between, ordinary
    tests would see an empty database, and anything that recreated a content
    type (a stray request to the live server, ``get_for_model``) would give it a
    new id that the live server's workers no longer match. Restoring at once
    keeps the ids stable for the whole session.
    """
    yield
    marker = item.get_closest_marker("django_db")
    if nextitem is None or not marker or not marker.kwargs.get("serialized_rollback"):
        return  # (after the last test the test database is already gone)
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    contents = getattr(connection, "_test_serialized_contents", None) or SERIALIZED_CONTENTS.get(connection.alias)
    if contents:
        from django.core.management import call_command
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            # Flush again first: a request still in flight when the test ended may
            # have written rows (a session, a content type) into the emptied tables.
            call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(contents)
    ContentType.objects.clear_cache()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, then the serialized copy of the migrated data kept (SERIALIZED_CONTENTS).

    Without it, a second flushing test in a browser module (its teardown runs in Playwright's
    context, whose connection object has no copy) left the content types to be recreated with
    new ids, and the live server's audit rows then pointed at missing ones.
    """
    from django.db import connection

    contents = getattr(connection, "_test_serialized_contents", None)
    if contents:
        SERIALIZED_CONTENTS[connection.alias] = contents
    return django_db_setup


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    """Users made in-process hash their passwords with a fast hasher (Django's advice for tests): PBKDF2's
    iterations were a third of the suite's time. Live tests keep the real one: their servers verify the hash."""
    if request.node.get_closest_marker("live") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request in Spanish (LocaleMiddleware)
    leaves Spanish active in the thread that served it, here the test's own."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(scope="session", autouse=True)
def _storage_prefix():
    """Objects outlive test transactions: keep each run's uploads under its own prefix."""
    from django.core.files.storage import default_storage

    prefix = f"test-runs/{uuid.uuid4().hex[:12]}"
    default_storage.location = prefix
    yield prefix


def make_user(username: str | None = None, *, groups: tuple[str, ...] = (), **extra):
    User = get_user_model()
    user = User.objects.create_user(username=username or f"user-{uuid.uuid4().hex[:8]}", password="pw-123456!", **extra)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def roles(db):
    """The groups come from a data migration; make sure they exist after a flushing test too."""
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def api(superuser) -> APIClient:
    """An API client authenticated with a superuser's token."""
    return client_for(superuser)


@pytest.fixture
def staff(client, superuser):
    """A Django test client logged in to the admin as a superuser."""
    client.force_login(superuser)
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


# --- live server -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_server_env(**overrides) -> dict[str, str]:
    """Environment for a gunicorn child that uses the test database and bucket."""
    db = settings.DATABASES["default"]
    host = db.get("OPTIONS", {}).get("host") or db.get("HOST")
    url = f"postgres://{db['USER']}@/{db['NAME']}?host={host}"
    if db.get("PORT"):
        url = f"postgres://{db['USER']}:{db.get('PASSWORD', '')}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DEBUG="false",
        SECRET_KEY="live-test-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        THROTTLE_ANON_RATE="100000/minute",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


class LiveServer:
    def __init__(self, workers: int = 2, timeout: int = 30, **env_overrides):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.timeout = timeout
        self.env = live_server_env(**env_overrides)
        self.proc: subprocess.Popen | None = None

    def start(self) -> LiveServer:
        cmd = [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            str(PROJECT_DIR / "tests" / "gunicorn_live.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--timeout",
            str(self.timeout),
            "--graceful-timeout",
            "5",
            "maintenance.wsgi",
        ]
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health/", timeout=2).status_code in (200, 503):
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start in 30 s")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    """A gunicorn server (2 workers) on the test database, for the whole session."""
    server = LiveServer(workers=2).start()
    yield server.url
    server.stop()


def token_for(user) -> str:
    """A new API token's key for ``user``."""
    return issue_api_token(user=user).key

"""Two app servers behind nginx, on PgBouncer in transaction mode, on the test PostgreSQL and S3 (issue 23).

The topology of docker-compose.yml on one machine, from Debian's nginx and pgbouncer
(``maintenance.dev.scaleout``): each server is the root conftest's ``LiveServer`` (gunicorn,
two workers, the test database and bucket) with its database URL pointed at PgBouncer.
Everything is started for the module and stopped at its end; ports come from the OS and
listen on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model

from conftest import PROJECT_DIR, LiveServer, token_for
from maintenance.dev.scaleout import Nginx, PgBouncer

# Every user's request limit on the cluster (THROTTLE_USER_RATE). The load tests spread their
# requests over enough users to stay under it; the throttle test measures it.
USER_RATE_PER_MINUTE = 200


@dataclass
class Cluster:
    nginx: Nginx
    bouncer: PgBouncer
    servers: list[LiveServer]

    @property
    def url(self) -> str:
        return self.nginx.url

    def server_of(self, response: requests.Response) -> int:
        """Which server (0 or 1) gave the answer nginx passed on."""
        ports = [server.port for server in self.servers]
        return ports.index(int(response.headers["X-Upstream"].rsplit(":", 1)[1]))


def api_users(count: int) -> list[dict[str, str]]:
    """Superusers without a password (no slow hashing), each as the headers of its API token."""
    User = get_user_model()
    users = [
        User.objects.create_user(f"scale-{uuid.uuid4().hex[:10]}", password=None, is_staff=True, is_superuser=True)
        for _ in range(count)
    ]
    return [{"Authorization": f"Token {token_for(user)}"} for user in users]


def send_all(requests_to_send, *, concurrency: int) -> list[requests.Response]:
    """``(method, url, kwargs)`` tuples sent by ``concurrency`` threads, in order of submission."""

    def send(item):
        method, url, kwargs = item
        return requests.request(method, url, timeout=60, **kwargs)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(send, requests_to_send))


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker):
    db = settings.DATABASES["default"]
    socket_dir = db.get("OPTIONS", {}).get("host") or db["HOST"]
    work_dir = PROJECT_DIR / ".state" / f"scale-{os.getpid()}"
    bouncer = PgBouncer(work_dir / "pgbouncer", socket_dir=socket_dir, pg_port=int(db.get("PORT") or 5432)).start()
    env = {
        "DATABASE_URL": bouncer.url(db["NAME"]),
        "DATABASE_TRANSACTION_POOLER": "true",
        "THROTTLE_USER_RATE": f"{USER_RATE_PER_MINUTE}/minute",
        # Behind nginx: clients are counted by the address it saw.
        "TRUSTED_PROXY_COUNT": "1",
        # A crashed server's keys are taken over once their lease runs out: short here (requests take
        # well under a second), as in tests/resilience.
        "IDEMPOTENCY_LEASE_SECONDS": "6",
    }
    servers = [LiveServer(workers=2, **env) for _ in range(2)]
    nginx = None
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(LiveServer.start, servers))
        nginx = Nginx(work_dir / "nginx", [f"127.0.0.1:{server.port}" for server in servers]).start()
        yield Cluster(nginx, bouncer, servers)
    finally:
        if nginx:
            nginx.stop()
        for server in servers:
            server.stop()
        bouncer.stop()
        shutil.rmtree(work_dir, ignore_errors=True)

"""Container health check: ``GET /health/`` on the local gunicorn, exit 0 only on 200.

The slim Python image has no curl, so this is the HEALTHCHECK command. ``/health/``
answers 200 only when the database and the bucket both answer, so an unhealthy
container is one that cannot serve requests, not merely one whose process is up.

The request must pass Django's host validation: it is sent with the first entry of
``ALLOWED_HOSTS`` as its Host header. It is also marked as forwarded over HTTPS so
that ``SECURE_SSL_REDIRECT`` does not turn the check into a redirect (gunicorn
trusts the header from 127.0.0.1, see ``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

import http.client
import os
import sys


def target_port(environ=os.environ) -> int:
    """The port gunicorn listens on, from GUNICORN_BIND (as gunicorn.conf.py reads it) or PORT."""
    bind = environ.get("GUNICORN_BIND") or f"127.0.0.1:{environ.get('PORT', '8000')}"
    _, _, port = bind.rpartition(":")
    return int(port)


def host_header(environ=os.environ) -> str:
    """A Host value that ALLOWED_HOSTS accepts."""
    allowed = [host.strip() for host in environ.get("ALLOWED_HOSTS", "").split(",") if host.strip()]
    if not allowed or allowed[0] == "*":
        return "localhost"
    if allowed[0].startswith("."):  # ".example.com" matches any subdomain
        return "health" + allowed[0]
    return allowed[0]


def check(environ=os.environ, timeout: float = 5.0) -> tuple[bool, str]:
    conn = http.client.HTTPConnection("127.0.0.1", target_port(environ), timeout=timeout)
    try:
        conn.request("GET", "/health/", headers={"Host": host_header(environ), "X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        body = response.read(2000).decode("utf-8", "replace")
    except OSError as exc:
        return False, f"health check failed: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    return response.status == 200, f"{response.status} {body}"


def main() -> int:
    healthy, detail = check()
    print(detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())

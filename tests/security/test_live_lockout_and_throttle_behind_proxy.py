"""Finding 6 and the throttle finding: one trusted-proxy count decides the client's address.

A gunicorn of its own plays the app behind the compose nginx (TRUSTED_PROXY_COUNT=1):
every request carries the X-Forwarded-For the proxy would write, the client's
own header (if any) followed by the address the proxy saw.
"""

from __future__ import annotations

import pytest
import requests

from conftest import LiveServer, make_user
from tests.security.conftest import admin_session

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module")
def behind_proxy(django_db_setup, django_db_blocker):
    server = LiveServer(
        workers=1, TRUSTED_PROXY_COUNT="1", THROTTLE_ANON_RATE="3/minute", AXES_FAILURE_LIMIT="3"
    ).start()
    yield server.url
    server.stop()


def via_proxy(client_address: str, forged: str = "") -> dict[str, str]:
    """The header nginx's $proxy_add_x_forwarded_for gives the app."""
    return {"X-Forwarded-For": f"{forged}, {client_address}" if forged else client_address}


def test_bad_logins_lock_that_client_only_not_everyone_behind_the_proxy(behind_proxy):
    make_user("sec-victim", is_staff=True)
    attacker = via_proxy("198.51.100.66")
    for _ in range(3):
        _, status = admin_session(behind_proxy, "sec-victim", "wrong", **attacker)
    assert status == 429  # the attacker's address is locked for this username...
    # ...even when it forges a header naming another client first.
    _, status = admin_session(behind_proxy, "sec-victim", "wrong", **via_proxy("198.51.100.66", forged="203.0.113.5"))
    assert status == 429
    # The real user, from another address behind the same proxy, still logs in.
    _, status = admin_session(behind_proxy, "sec-victim", **via_proxy("192.0.2.10"))
    assert status == 302


def test_the_anonymous_throttle_counts_per_client_and_a_forged_header_does_not_reset_it(behind_proxy):
    # An endpoint open to anonymous clients (elsewhere the 401 comes before any throttle).
    url = f"{behind_proxy}/api/schema/"
    statuses = [requests.get(url, headers=via_proxy("198.51.100.7"), timeout=30).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert requests.get(url, headers=via_proxy("198.51.100.7"), timeout=10).status_code == 429
    # A new forged header each time was a new client before: it is the same one now.
    for n in range(3):
        forged = via_proxy("198.51.100.7", forged=f"10.9.9.{n}")
        assert requests.get(url, headers=forged, timeout=10).status_code == 429
    # Another client behind the same proxy is not throttled with it.
    assert requests.get(url, headers=via_proxy("198.51.100.8"), timeout=30).status_code == 200

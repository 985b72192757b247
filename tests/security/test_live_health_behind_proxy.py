"""Low finding: /health/ for the public is a cheap liveness answer; details for staff or local callers only."""

from __future__ import annotations

import pytest
import requests

from conftest import LiveServer, make_user, token_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(scope="module")
def behind_proxy(django_db_setup, django_db_blocker):
    server = LiveServer(workers=1, TRUSTED_PROXY_COUNT="1").start()
    yield server.url
    server.stop()


REMOTE = {"X-Forwarded-For": "198.51.100.20"}


def test_a_remote_anonymous_caller_learns_only_that_the_app_is_up(behind_proxy):
    for path in ("/health/", "/health/live/"):
        response = requests.get(f"{behind_proxy}{path}", headers=REMOTE, timeout=30)
        assert response.status_code == 200, path
        assert response.json() == {"status": "ok"}, path


def test_details_for_staff_and_local_callers_only(behind_proxy, roles):
    staff = make_user("sec-health-staff", is_staff=True)
    technician = make_user("sec-health-tech", groups=("Technicians",))
    as_staff = requests.get(
        f"{behind_proxy}/health/", headers={**REMOTE, "Authorization": f"Token {token_for(staff)}"}, timeout=30
    )
    assert as_staff.status_code == 200 and set(as_staff.json()["checks"]) == {"database", "storage"}
    as_technician = requests.get(
        f"{behind_proxy}/health/", headers={**REMOTE, "Authorization": f"Token {token_for(technician)}"}, timeout=30
    )
    assert as_technician.json() == {"status": "ok"}
    # A caller on the machine itself (the container's health check, the proxy-less make run).
    local = requests.get(f"{behind_proxy}/health/", timeout=30)
    assert set(local.json()["checks"]) == {"database", "storage"}

"""Low finding: only staff get a session, through the admin or the browsable API's login."""

from __future__ import annotations

import pytest
import requests

from tests.security.conftest import admin_session

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def api_auth_login(base: str, username: str) -> tuple[requests.Session, int]:
    return admin_session(base, username, login="/api-auth/login/", then="/api/v1/")


def test_non_staff_users_get_no_session_from_the_browsable_api_login(actors):
    for name in ("technician", "nobody"):
        session, status = api_auth_login(actors[name].base, actors[name].user.username)
        assert status == 200, name  # the form again, with its error
        assert "sessionid" not in session.cookies, name
        assert session.get(f"{actors[name].base}/api/v1/orders/", timeout=30).status_code in (401, 403), name


def test_staff_still_log_in_there(actors):
    viewer = actors["viewer"]
    session, status = api_auth_login(viewer.base, viewer.user.username)
    assert status == 302 and "sessionid" in session.cookies
    assert session.get(f"{viewer.base}/api/v1/orders/", timeout=30).status_code == 200

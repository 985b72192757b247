"""The browsable API's session login is for staff only (issue 22, low finding).

Before the fix any active user got a session cookie through /api-auth/login/.
"""

from __future__ import annotations

import pytest

from conftest import make_user

pytestmark = pytest.mark.django_db


def log_in(client, username: str):
    return client.post("/api-auth/login/", {"username": username, "password": "pw-123456!", "next": "/api/v1/"})


def test_only_staff_get_a_session_through_the_api_login(client):
    make_user("plain-user")
    refused = log_in(client, "plain-user")
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert "staff account" in refused.content.decode()
    make_user("clerk", is_staff=True)
    accepted = log_in(client, "clerk")
    assert accepted.status_code == 302 and accepted["Location"] == "/api/v1/"
    assert client.session["_auth_user_id"]
    assert client.get("/api/v1/").status_code == 200

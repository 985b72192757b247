"""Black-box security checks: real HTTP against the session's gunicorn, one client per role.

Each test runs in a flushed-and-restored database (the live server's workers see
the rows it creates), so these tests are ``transaction=True`` with the
serialized rollback that keeps content types stable (see the root conftest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import requests

from conftest import make_user, token_for
from maintenance.accounts.roles import INVENTORY_MANAGERS, TECHNICIANS, VIEWERS

PASSWORD = "pw-123456!"


@dataclass
class Actor:
    """A user of one role, with a requests session that sends its API token."""

    name: str
    user: object
    base: str

    def __post_init__(self):
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token_for(self.user)}"

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path, **kwargs):
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def post(self, path, **kwargs):
        return self.http.post(self.url(path), timeout=30, **kwargs)

    def patch(self, path, **kwargs):
        return self.http.patch(self.url(path), timeout=30, **kwargs)

    def delete(self, path, **kwargs):
        return self.http.delete(self.url(path), timeout=30, **kwargs)


@pytest.fixture
def actors(live_server_url, roles) -> dict[str, Actor]:
    """One actor per role: manager, technician, viewer, staff without a role, superuser, no role."""
    users = {
        "manager": make_user("sec-manager", groups=(INVENTORY_MANAGERS,), is_staff=True),
        "technician": make_user("sec-technician", groups=(TECHNICIANS,)),
        "viewer": make_user("sec-viewer", groups=(VIEWERS,), is_staff=True),
        "staff": make_user("sec-staff", is_staff=True),
        "superuser": make_user("sec-root", is_staff=True, is_superuser=True),
        "nobody": make_user("sec-nobody"),
    }
    return {name: Actor(name, user, live_server_url) for name, user in users.items()}


def admin_session(
    base: str, username: str, password: str = PASSWORD, *, login="/admin/login/", then="/admin/", **headers
) -> tuple[requests.Session, int]:
    """Log in through a login form (the admin's, or the browsable API's) as a browser does; the session and
    the login's status."""
    session = requests.Session()
    session.headers.update(headers)
    form = session.get(f"{base}{login}", timeout=30)
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    response = session.post(
        f"{base}{login}?next={then}",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        timeout=30,
        allow_redirects=False,
    )
    return session, response.status_code

"""API tokens are remembered per process for a few seconds, never longer than is safe."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from conftest import client_for, make_user
from maintenance.accounts.roles import VIEWERS
from maintenance.api import authentication

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items/"


def token_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "authtoken_token" in q["sql"]]


def get_items(client) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(ITEMS).status_code
    return status, token_queries(captured.captured_queries)


def test_a_token_is_looked_up_once_then_remembered(api):
    assert get_items(api)[0] == 200
    status, queries = get_items(api)
    assert status == 200
    assert queries == []


def test_no_memory_when_the_ttl_is_zero(api, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    get_items(api)
    status, queries = get_items(api)
    assert status == 200
    assert len(queries) == 1


def test_a_deleted_token_is_refused_at_once(api, superuser):
    assert get_items(api)[0] == 200
    Token.objects.get(user=superuser).delete()
    assert get_items(api)[0] == 401


def test_a_deactivated_user_is_refused_at_once(api, superuser):
    assert get_items(api)[0] == 200
    superuser.is_active = False
    superuser.save()
    assert get_items(api)[0] == 401


def test_a_token_deleted_elsewhere_is_refused_after_the_ttl(api, superuser, monkeypatch, settings):
    """Another worker process deleted it: this one learns at the latest when the TTL runs out."""
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    assert get_items(api)[0] == 200
    with connection.cursor() as cursor:  # no signal reaches this process
        cursor.execute("DELETE FROM authtoken_token WHERE user_id = %s", [superuser.pk])
    now[0] += settings.API_TOKEN_CACHE_SECONDS - 0.5
    assert get_items(api)[0] == 200
    now[0] += 1
    assert get_items(api)[0] == 401


def test_permissions_are_not_remembered(roles):
    """Only the identity is remembered: a new role counts from the next request."""
    user = make_user()
    client = client_for(user)
    assert get_items(client)[0] == 403
    user.groups.add(Group.objects.get(name=VIEWERS))  # no save of the user: no signal
    assert get_items(client)[0] == 200
    user.groups.clear()
    assert get_items(client)[0] == 403


def test_each_request_gets_its_own_user_object(api, superuser):
    assert get_items(api)[0] == 200
    key = Token.objects.get(user=superuser).key
    first, _ = authentication.CachedTokenAuthentication().authenticate_credentials(key)
    second, _ = authentication.CachedTokenAuthentication().authenticate_credentials(key)
    assert first == second and first is not second


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(authentication, "MAX_REMEMBERED_TOKENS", 3)
    for _ in range(5):
        client = client_for(make_user())
        client.get("/api/v1/orders/")
    assert len(authentication._remembered) <= 3

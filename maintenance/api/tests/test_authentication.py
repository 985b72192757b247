"""API tokens are checked against the database on every request, and looked up once per request."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import client_for, make_user
from inventory.tests.factories import SparePartFactory
from maintenance.accounts.models import ApiToken
from maintenance.accounts.roles import VIEWERS
from maintenance.accounts.services import issue_api_token

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items/"


def token_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "accounts_apitoken" in q["sql"]]


def send(client, method="get", path=ITEMS, **kwargs) -> tuple[object, list]:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(path, **kwargs)
    return response, token_queries(captured.captured_queries)


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_every_request_reads_its_token_once():
    client = client_with(issue_api_token(user=make_user(is_superuser=True)).key)
    for _ in range(2):
        response, queries = send(client)
        assert response.status_code == 200
        assert len(queries) == 1


def test_an_idempotent_post_looks_its_token_up_once(superuser):
    """The idempotency middleware and the view both authenticate the request: one query for both."""
    client = client_with(issue_api_token(user=superuser).key)
    part = SparePartFactory(stock=5)
    body = {"request_id": "once-1", "items": [{"spare_part_id": part.pk, "quantity": 1}]}
    response, queries = send(client, "post", "/api/v1/orders/", data=body, format="json")
    assert response.status_code == 201, response.content
    assert len(queries) == 1
    # And the next request looks it up again (nothing is remembered between requests).
    response, queries = send(client)
    assert response.status_code == 200 and len(queries) == 1


def test_a_token_deleted_anywhere_is_refused_at_once(superuser):
    """Deleted anywhere (a queryset delete: no instance, nothing this process could be told), refused next."""
    issued = issue_api_token(user=superuser)
    client = client_with(issued.key)
    assert send(client)[0].status_code == 200
    ApiToken.objects.filter(pk=issued.token.pk).delete()
    response, _ = send(client)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_a_user_deactivated_anywhere_is_refused_at_once(superuser):
    client = client_with(issue_api_token(user=superuser).key)
    assert send(client)[0].status_code == 200
    get_user_model().objects.filter(pk=superuser.pk).update(is_active=False)  # no signal
    response, _ = send(client)
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_a_user_demoted_anywhere_loses_access_at_once(superuser):
    client = client_with(issue_api_token(user=superuser).key)
    assert send(client)[0].status_code == 200
    get_user_model().objects.filter(pk=superuser.pk).update(is_superuser=False, is_staff=False)
    assert send(client)[0].status_code == 403


def test_an_expired_token_is_refused(superuser):
    issued = issue_api_token(user=superuser, lifetime=timedelta(days=1))
    client = client_with(issued.key)
    assert send(client)[0].status_code == 200
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response, _ = send(client)
    assert response.status_code == 401
    assert response.json()["detail"] == "Token expired."
    assert response["WWW-Authenticate"] == "Token"


def test_only_the_digest_is_stored(superuser):
    issued = issue_api_token(user=superuser)
    stored = [str(value) for row in ApiToken.objects.values_list() for value in row]
    assert not any(issued.key in value for value in stored)
    assert issued.token.prefix == issued.key[:8]


def test_an_unknown_or_malformed_token_is_refused():
    assert send(client_with("0" * 40))[0].status_code == 401
    assert send(client_with("x"))[0].status_code == 401


def test_permissions_are_read_on_every_request(roles):
    user = make_user()
    client = client_for(user)
    assert send(client)[0].status_code == 403
    user.groups.add(Group.objects.get(name=VIEWERS))  # no save of the user: no signal
    assert send(client)[0].status_code == 200
    user.groups.clear()
    assert send(client)[0].status_code == 403

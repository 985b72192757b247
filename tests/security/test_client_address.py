"""One trusted-proxy count for the login lockout, the throttles and the audit (issue 22, finding 6 and a low one).

Before the fix the lockout keyed on REMOTE_ADDR, which behind the compose nginx is always the
proxy: five bad logins locked that username for every client. And the anonymous throttle keyed
on X-Forwarded-For as the client sent it, so a client could change it to get a fresh limit.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework import throttling as drf_throttling

from conftest import make_user
from maintenance.api.throttling import AnonRateThrottle
from maintenance.audit.models import Auditor
from maintenance.http.client_address import client_address

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def behind_one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def test_behind_the_proxy_one_clients_bad_logins_do_not_lock_the_others(client, settings, behind_one_proxy):
    make_user("staffer", is_staff=True, is_superuser=True)
    attacker = {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "staffer", "password": "wrong"}, **attacker)
    assert client.post(LOGIN, {"username": "staffer", "password": "pw-123456!"}, **attacker).status_code == 429
    colleague = {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert client.post(LOGIN, {"username": "staffer", "password": "pw-123456!"}, **colleague).status_code == 302
    # A client's own additions before the proxy's entry change nothing.
    forged = {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "10.9.9.9, 203.0.113.66"}
    assert client.post(LOGIN, {"username": "staffer", "password": "pw-123456!"}, **forged).status_code == 429


def test_a_direct_client_cannot_pick_its_address(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_address(request) == "192.0.2.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.9"


def test_the_anonymous_throttle_is_not_reset_by_a_new_forwarded_for(monkeypatch):
    monkeypatch.setattr(drf_throttling.SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    cache.clear()
    answers = []
    for n in range(4):
        request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        request.user = AnonymousUser()
        answers.append(AnonRateThrottle().allow_request(request, view=None))
    cache.clear()
    assert answers == [True, True, True, False]


def test_audit_rows_carry_the_clients_address_behind_the_proxy(api, behind_one_proxy):
    api.post("/api/v1/categories/", {"name": "Seals"}, REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert Auditor.objects.get(object_repr="Seals").remote_addr == "198.51.100.7"

"""API tokens in the admin: issued with their key shown once, never edited, revoked by deleting."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import make_user
from maintenance.accounts.models import ApiToken, digest_of
from maintenance.accounts.services import issue_api_token

pytestmark = pytest.mark.django_db

ADD = reverse("admin:accounts_apitoken_add")
CHANGELIST = reverse("admin:accounts_apitoken_changelist")


def works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/items/").status_code == 200


def test_issuing_a_token_shows_its_key_once(staff):
    owner = make_user("tablet-user", is_staff=True, is_superuser=True)
    response = staff.post(ADD, {"user": owner.pk, "name": "tablet 3", "lifetime_days": "30"}, follow=True)
    assert response.status_code == 200
    (key,) = re.findall(r"<code>([0-9a-f]{40})</code>", response.content.decode())
    token = ApiToken.objects.get(user=owner)
    assert token.digest == digest_of(key) and token.name == "tablet 3"
    assert works(key)
    # The token's own page never shows it again.
    page = staff.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    assert page.status_code == 200 and key not in page.content.decode()
    assert token.prefix in page.content.decode()


def test_the_lifetime_is_bounded(staff):
    owner = make_user()
    response = staff.post(ADD, {"user": owner.pk, "name": "", "lifetime_days": "0"})
    assert response.status_code == 200
    assert "lifetime_days" in response.context["adminform"].form.errors
    assert not ApiToken.objects.exists()


def test_a_token_cannot_be_edited_and_is_revoked_by_deleting(staff, superuser):
    issued = issue_api_token(user=superuser, name="old")
    change = reverse("admin:accounts_apitoken_change", args=[issued.token.pk])
    staff.post(change, {"user": superuser.pk, "name": "renamed"})
    assert ApiToken.objects.get(pk=issued.token.pk).name == "old"
    delete = reverse("admin:accounts_apitoken_delete", args=[issued.token.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 302
    assert not works(issued.key)


def test_the_list_shows_whose_tokens_and_whether_valid(staff, superuser, django_assert_max_num_queries):
    for n in range(3):
        issue_api_token(user=make_user(f"holder-{n}"), name=f"device {n}")
    with django_assert_max_num_queries(8):
        response = staff.get(CHANGELIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert all(f"holder-{n}" in body and f"device {n}" in body for n in range(3))

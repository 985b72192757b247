"""Issuing API tokens: the service, the command, and the move away from DRF's plaintext tokens."""

import importlib
import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from conftest import make_user
from maintenance.accounts.models import ApiToken, digest_of
from maintenance.accounts.services import issue_api_token

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_as_its_digest_with_an_expiry(settings):
    settings.API_TOKEN_TTL_DAYS = 30
    user = make_user()
    before = timezone.now()
    issued = issue_api_token(user=user, name="tablet 3")
    token = ApiToken.objects.get(user=user)
    assert token.digest == digest_of(issued.key) != issued.key
    assert (token.name, token.prefix) == ("tablet 3", issued.key[:8])
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    assert len(issued.key) == 40 and int(issued.key, 16) >= 0


def test_each_token_is_new_and_a_user_may_hold_several():
    user = make_user()
    first, second = issue_api_token(user=user), issue_api_token(user=user, lifetime=timedelta(hours=1))
    assert first.key != second.key
    assert user.api_tokens.count() == 2
    assert second.token.expires_at < first.token.expires_at


def test_a_lifetime_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        issue_api_token(user=make_user(), lifetime=timedelta(0))
    assert not ApiToken.objects.exists()


def test_the_command_issues_a_new_working_token_each_time(api):
    make_user("api-client", is_staff=True, is_superuser=True)
    keys = []
    for _ in range(2):
        out = io.StringIO()
        call_command("issue_token", "api-client", "--name", "cli", "--days", "7", stdout=out)
        keys.append(out.getvalue().strip())
    assert keys[0] != keys[1]
    tokens = ApiToken.objects.filter(user__username="api-client", name="cli")
    assert {t.digest for t in tokens} == {digest_of(key) for key in keys}
    assert all(t.expires_at <= timezone.now() + timedelta(days=7) for t in tokens)
    api.credentials(HTTP_AUTHORIZATION=f"Token {keys[1]}")
    assert api.get("/api/v1/items/").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"), [(["nobody"], "No user named"), (["api-client", "--days", "0"], "--days")]
)
def test_the_command_refuses_what_it_cannot_do(args, message):
    make_user("api-client")
    with pytest.raises(CommandError, match=message):
        call_command("issue_token", *args, stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_the_migration_moves_plaintext_tokens_and_drops_their_table(settings):
    """A database that had DRF's authtoken: its keys keep working, and no plaintext key is left."""
    settings.API_TOKEN_TTL_DAYS = 90
    user = make_user()
    key = "0123456789abcdef0123456789abcdef01234567"
    # SQL: rest_framework.authtoken is no longer installed, so its table has no model to write it with.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, "
            "user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, user.pk])
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', now())")
    migration = importlib.import_module("maintenance.accounts.migrations.0002_api_tokens")

    with connection.schema_editor() as editor:
        migration.move_plaintext_tokens(apps, editor)

    token = ApiToken.objects.get(user=user)
    assert token.digest == digest_of(key)
    assert token.expires_at > timezone.now() + timedelta(days=89)
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone()[0] == 0
    # And again on a database that never had the table: nothing to do.
    with connection.schema_editor() as editor:
        migration.move_plaintext_tokens(apps, editor)
    assert ApiToken.objects.count() == 1

"""ensure_admin only creates (issue 22, finding 7).

Before the fix it revived a disabled, demoted admin with an unusable password as an active
superuser, and printed a supplied password to the log on every start.
"""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run(monkeypatch, tmp_path, **env) -> str:
    monkeypatch.setenv("DEV_STATE_DIR", str(tmp_path))
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


def test_a_disabled_admin_stays_disabled_and_a_supplied_password_is_never_printed(monkeypatch, tmp_path):
    User = get_user_model()
    admin = User.objects.create_superuser("admin", password="old-password-1")
    admin.is_active = admin.is_staff = admin.is_superuser = False
    admin.set_unusable_password()
    admin.save()
    output = run(monkeypatch, tmp_path, DJANGO_SUPERUSER_PASSWORD="s3cret-from-env")
    admin.refresh_from_db()
    assert (admin.is_active, admin.is_staff, admin.is_superuser, admin.has_usable_password()) == (
        False,
        False,
        False,
        False,
    )
    assert "s3cret-from-env" not in output and "left as it is" in output


def test_a_new_admin_is_created_with_the_supplied_or_a_generated_password(monkeypatch, tmp_path):
    output = run(monkeypatch, tmp_path, DJANGO_SUPERUSER_USERNAME="boss", DJANGO_SUPERUSER_PASSWORD="s3cret-env")
    boss = get_user_model().objects.get(username="boss")
    assert boss.is_superuser and boss.check_password("s3cret-env") and "s3cret-env" not in output
    output = run(monkeypatch, tmp_path)
    generated = (tmp_path / "admin-password").read_text().strip()
    assert get_user_model().objects.get(username="admin").check_password(generated)
    assert generated in output  # this machine's own generated password, for make run

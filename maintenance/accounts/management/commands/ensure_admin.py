import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure an admin account exists and print how to log in. Uses DJANGO_SUPERUSER_USERNAME/"
        "DJANGO_SUPERUSER_PASSWORD when set, else 'admin' with a generated password kept in the state folder."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        supplied = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = supplied or self._generated_password()
        port = os.environ.get("PORT", "8000")
        user = User.objects.filter(username=username).first()
        if user is None:
            User.objects.create_superuser(username=username, email="", password=password)
            status = "created"
        else:
            # Never reset, promote or re-activate an existing account: whoever disabled or demoted
            # it meant it, and this command runs at every start (in Docker, every release).
            status = "exists (left as it is)"
        if supplied:
            shown = "(the one in DJANGO_SUPERUSER_PASSWORD)"  # a supplied secret never goes to the log
        elif user is None or user.check_password(password):
            shown = password  # generated for this machine, kept in the state folder
        else:
            shown = "(not the one in the state folder: it was changed since)"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nAdmin account {status}. Log in at http://127.0.0.1:{port}/admin/\n"
                f"    username: {username}\n    password: {shown}\n"
                f"API docs: http://127.0.0.1:{port}/docs  ·  http://127.0.0.1:{port}/redoc\n"
            )
        )

    @staticmethod
    def _generated_password() -> str:
        """This machine's admin password: made once and kept in the (gitignored) state folder."""
        state_dir = Path(os.environ.get("DEV_STATE_DIR", settings.BASE_DIR / ".state"))
        password_file = state_dir / "admin-password"
        if password_file.exists():
            return password_file.read_text().strip()
        password = secrets.token_urlsafe(12)
        state_dir.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        return password

import os
import secrets
from pathlib import Path

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
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        state_dir = Path(os.environ.get("DEV_STATE_DIR", Path(__file__).resolve().parents[3] / ".state"))
        password_file = state_dir / "admin-password"
        if not password:
            if password_file.exists():
                password = password_file.read_text().strip()
            else:
                password = secrets.token_urlsafe(12)
                state_dir.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
        user = User.objects.filter(username=username).first()
        if user is None:
            User.objects.create_superuser(username=username, email="", password=password)
            created = "created"
        else:
            if not user.check_password(password) or not user.is_superuser:
                user.set_password(password)
                user.is_staff = user.is_superuser = True
                user.is_active = True
                user.save()
            created = "ready"
        port = os.environ.get("PORT", "8000")
        self.stdout.write(
            self.style.SUCCESS(
                f"\nAdmin account {created}. Log in at http://127.0.0.1:{port}/admin/\n"
                f"    username: {username}\n    password: {password}\n"
                f"API docs: http://127.0.0.1:{port}/docs  ·  http://127.0.0.1:{port}/redoc\n"
            )
        )

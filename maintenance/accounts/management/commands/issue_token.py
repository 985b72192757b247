from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from maintenance.accounts.services import issue_api_token


class Command(BaseCommand):
    help = (
        "Issue a new API token for a user and print its key (shown this once: only its digest is stored). "
        "Revoke tokens in the admin (System, API tokens)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for (a device, a client)")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"valid for this many days (default API_TOKEN_TTL_DAYS, {settings.API_TOKEN_TTL_DAYS})",
        )

    def handle(self, *args, username, name, days, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'. Create one in the admin or with createsuperuser.")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        issued = issue_api_token(user=user, name=name, lifetime=None if days is None else timedelta(days=days))
        self.stdout.write(issued.key)

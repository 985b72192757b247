from django.core.management.base import BaseCommand
from django.utils import timezone

from maintenance.api.models import RequestCount


class Command(BaseCommand):
    help = "Delete the throttles' request counts of windows no longer weighed (run it from cron, e.g. hourly)."

    def handle(self, *args, **options):
        deleted, _ = RequestCount.objects.filter(expires_at__lt=timezone.now()).delete()
        self.stdout.write(f"deleted {deleted} request counts")

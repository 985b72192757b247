from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from maintenance.idempotency.models import ProcessedRequest


class Command(BaseCommand):
    help = "Delete idempotency keys older than IDEMPOTENCY_WINDOW_SECONDS (run it from cron, e.g. hourly)."

    def handle(self, *args, **options):
        cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_WINDOW_SECONDS)
        deleted, _ = ProcessedRequest.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} expired idempotency keys.")

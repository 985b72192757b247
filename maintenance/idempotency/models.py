from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ProcessedRequest(models.Model):
    """An idempotency key and, once the request finished, the response it got."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")

    key = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # idempotency_key_unique starts with it
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text=_("SHA-256 of method, path and canonical body."))
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True, default="")
    replay_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_index=True)
    # Who holds the key while its request runs, and until when: a retry after that takes it over.
    lease_token = models.CharField(max_length=32, blank=True, default="", db_default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("processed request")
        verbose_name_plural = _("processed requests")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "method", "path", "key"], name="idempotency_key_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"

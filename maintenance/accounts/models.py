"""API tokens: stored as a SHA-256 digest, each with an expiry.

The key itself is shown once, when the token is issued (admin or ``manage.py issue_token``),
and never stored: a copy of the database gives no working key. Keys are 160 random bits,
so one unsalted SHA-256 is enough (nothing to guess, unlike a password) and the digest is
the lookup: one indexed query per request, the same as DRF's plaintext tokens.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(
        _("name"), max_length=100, blank=True, help_text=_("What the token is for, e.g. the device or client using it.")
    )
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    # The key's first characters, so a user can tell their tokens apart; not enough to guess it.
    prefix = models.CharField(_("starts with"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

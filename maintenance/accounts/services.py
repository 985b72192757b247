"""Writes of the accounts app: API tokens are issued here and nowhere else."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from maintenance.accounts.models import ApiToken, digest_of


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown to the user once; only its digest is stored


def issue_api_token(*, user, name: str = "", lifetime: timedelta | None = None) -> IssuedToken:
    """A new token for ``user``, valid for ``lifetime`` (default ``API_TOKEN_TTL_DAYS``)."""
    if lifetime is None:
        lifetime = timedelta(days=settings.API_TOKEN_TTL_DAYS)
    if lifetime <= timedelta(0):
        raise ValueError("A token's lifetime must be positive.")
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user, name=name, digest=digest_of(key), prefix=key[:8], expires_at=timezone.now() + lifetime
    )
    return IssuedToken(token=token, key=key)

"""Token authentication that looks a token up once per request, and rarely more.

Two memories, both for speed:

* per request: the idempotency middleware needs the user before the view runs;
  the view's own authentication then reuses that result;
* per process, for ``API_TOKEN_CACHE_SECONDS`` (default 5 s): a client placing
  orders sends the same token many times a second, and the token query was one
  of the dearest statements of an order. Only the identity is remembered (the
  token and its user's row, never the user's permission caches), and each
  request gets its own copy of the user. Deleting a token or saving its user
  forgets it at once in this process; other worker processes may accept a
  deleted token, or a deactivated user, for at most the TTL. ``0`` turns the
  memory off.
"""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

# Bounded: a flood of distinct (valid) tokens cannot grow it past this.
MAX_REMEMBERED_TOKENS = 1000

_remembered: dict[str, tuple[float, object, Token]] = {}
_lock = threading.Lock()


def forget_tokens(*, key: str | None = None, user_id=None) -> None:
    """Forget one token, every token of a user, or (no argument) all of them."""
    with _lock:
        if key is None and user_id is None:
            _remembered.clear()
            return
        for remembered_key, (_, user, _token) in list(_remembered.items()):
            if remembered_key == key or (user_id is not None and user.pk == user_id):
                _remembered.pop(remembered_key, None)


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        ttl = settings.API_TOKEN_CACHE_SECONDS
        if ttl <= 0:
            return super().authenticate_credentials(key)
        now = time.monotonic()
        remembered = _remembered.get(key)
        if remembered is not None and remembered[0] > now:
            _, user, token = remembered
            return copy.copy(user), token
        # Raises AuthenticationFailed for an unknown token or an inactive user: not remembered.
        user, token = super().authenticate_credentials(key)
        with _lock:
            if len(_remembered) >= MAX_REMEMBERED_TOKENS:
                _remembered.clear()
            # A copy taken before any permission check fills the user's perm caches.
            _remembered[key] = (now + ttl, copy.copy(user), token)
        return user, token


def _forget_deleted_token(sender, instance, **kwargs):
    forget_tokens(key=instance.key)


def _forget_saved_user(sender, instance, **kwargs):
    forget_tokens(user_id=instance.pk)


def connect_signals() -> None:
    """Called from the app's ``ready()``: a token or user changed in this process is forgotten at once."""
    post_delete.connect(_forget_deleted_token, sender=Token, dispatch_uid="forget_deleted_token")
    post_save.connect(_forget_saved_user, sender=get_user_model(), dispatch_uid="forget_saved_user")

"""Token authentication on hashed, expiring tokens (``maintenance.accounts.models.ApiToken``).

Every request reads its token and its user from the database (one indexed query): a deleted
token, an expired one or a deactivated user is refused at once by every worker of every
server, and nothing about a user is remembered between requests.

Within one request the lookup runs once. The idempotency middleware must know the user
before the view runs (keys are scoped per user), and the view then authenticates the same
request again through DRF; :func:`one_lookup_per_request` lets the second authentication
reuse the first one's answer. That memory is a context variable, set for the length of one
request by the middleware and reset when it ends, so it can never leak into another request.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from maintenance.accounts.models import ApiToken, digest_of

# key -> (user, token) of the request being served, when the middleware opened the scope.
_this_request: ContextVar[dict | None] = ContextVar("api_token_lookups", default=None)


@contextlib.contextmanager
def one_lookup_per_request():
    """Within this block, a token is looked up once however often the request is authenticated."""
    reset = _this_request.set({})
    try:
        yield
    finally:
        _this_request.reset(reset)


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's ``Authorization: Token <key>`` scheme, on :class:`ApiToken` digests."""

    model = ApiToken

    def authenticate_credentials(self, key):
        lookups = _this_request.get()
        if lookups is not None and key in lookups:
            return lookups[key]
        try:
            token = ApiToken.objects.select_related("user").get(digest=digest_of(key))
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if token.expired:
            raise exceptions.AuthenticationFailed(_("Token expired."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if lookups is not None:
            lookups[key] = (token.user, token)
        return token.user, token

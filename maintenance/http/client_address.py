"""The client's address, the one way: the socket's, or behind trusted proxies the one they saw.

``TRUSTED_PROXY_COUNT`` says how many proxies (each appending to ``X-Forwarded-For``, as nginx's
``$proxy_add_x_forwarded_for`` does) stand between the client and the app. With 0 (a direct
deployment, the default) the header is ignored: the client writes it. With N the address N
entries from its end is the client's — what the nearest trusted proxy saw; entries before it
are the client's own say. The login lockout (django-axes calls this: ``AXES_CLIENT_IP_CALLABLE``),
the audit rows and DRF's throttles (``NUM_PROXIES``, the same rule) use the one setting.
"""

from __future__ import annotations

from django.conf import settings


def client_address(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(count, len(forwarded))]

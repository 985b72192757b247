"""Who is acting, and in which request, carried through ``contextvars``.

A middleware stores the current Django request; the actor is read from it when
an audit row is written, which is after DRF authenticated the token (DRF sets
``request.user`` on the underlying Django request). ContextVars, unlike thread
locals, stay right under gunicorn threads and async code. Management commands
and background jobs have no request: their rows carry no actor unless they use
:func:`acting_as`.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar

from maintenance.http.client_address import client_address
from maintenance.http.timing import current_client_request_id, current_request_id

_current_request: ContextVar = ContextVar("audit_current_request", default=None)
_explicit_actor: ContextVar = ContextVar("audit_explicit_actor", default=None)


def set_request(request):
    return _current_request.set(request)


def reset_request(token) -> None:
    _current_request.reset(token)


@contextlib.contextmanager
def acting_as(user):
    """Attribute the changes made inside the block to ``user`` (e.g. in a command)."""
    token = _explicit_actor.set(user)
    try:
        yield
    finally:
        _explicit_actor.reset(token)


def current_actor():
    explicit = _explicit_actor.get()
    if explicit is not None:
        return explicit
    request = _current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def current_remote_addr() -> str | None:
    request = _current_request.get()
    if request is None:
        return None
    return client_address(request)


def current_request_id_value() -> str:
    return current_request_id.get() or ""


def current_client_request_id_value() -> str:
    return current_client_request_id.get()

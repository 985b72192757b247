"""Optimistic concurrency for edits: an object's version is its ``date_updated``, which every save moves.

The API sends it as an ``ETag`` on a single object's answers (the ``date_updated`` the answer
shows); a ``PATCH`` with ``If-Match`` is refused with 412 if the object changed since (the
services call :func:`check_version` under the row lock). The admin's edit forms guard each
field instead (``maintenance.adminkit.mixins.StaleEditFormMixin``).
"""

from __future__ import annotations

import datetime

from django.utils.dateparse import parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from maintenance.api.errors import InvalidInput, PreconditionFailed


def check_version(instance, expected_version: datetime.datetime | None) -> None:
    """Refuse to change ``instance`` (locked by the caller) if it is no longer the version the
    client read: another save came in between. ``None`` checks nothing."""
    if expected_version is not None and instance.date_updated != expected_version:
        raise PreconditionFailed(
            _(
                "%(model)s '%(object)s' was changed by someone else since you read it; nothing was written. "
                "Read it again and repeat your change."
            )
            % {"model": capfirst(instance._meta.verbose_name), "object": instance},
        )


class VersionedViewMixin:
    """For a viewset: single-object answers carry the object's version as ``ETag`` (its
    ``date_updated`` as the answer shows it), and :meth:`expected_version` reads a ``PATCH``'s
    ``If-Match`` for the service's :func:`check_version`."""

    def finalize_response(self, request, response, *args, **kwargs):
        data = getattr(response, "data", None)
        if (
            request.method in ("GET", "PATCH", "PUT")
            and response.status_code == 200
            and isinstance(data, dict)
            and data.get("date_updated")
            and "id" in data
        ):
            response["ETag"] = f'"{data["date_updated"]}"'
        return super().finalize_response(request, response, *args, **kwargs)

    def expected_version(self) -> datetime.datetime | None:
        return version_from_if_match(self.request.headers.get("If-Match"))


def version_from_if_match(header: str | None) -> datetime.datetime | None:
    """The version an ``If-Match`` header names (``None`` without one; ``*`` matches any version)."""
    if header is None or header.strip() == "*":
        return None
    moment = parse_datetime(header.strip().removeprefix("W/").strip('"'))
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            _("If-Match must be an ETag this API sent (the object's date_updated, quoted)."), field="If-Match"
        )
    return moment

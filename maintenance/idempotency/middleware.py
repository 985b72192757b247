"""Idempotency keys, after Stripe's design and the IETF ``Idempotency-Key`` draft.

For a POST or PATCH under ``/api/`` that carries an ``Idempotency-Key`` header
(or, for ``POST /api/v1/orders/``, a body ``request_id``), scoped to the user,
the method and the path:

* first time: the key is reserved — an INSERT against a unique constraint, committed
  on its own, that carries a lease: who holds the key (a random token) and until
  when (``IDEMPOTENCY_LEASE_SECONDS``, longer than a request may run); the response
  is stored with the key by its holder; a 5xx or an exception releases the key;
* again, same body: the stored response is replayed with ``Idempotent-Replayed: true``
  and the view does not run — but its own checks do (authentication with CSRF for a
  session, permissions, throttles; :func:`refusal_of_a_fresh_request`), so a user who
  lost the permission, or a forged cross-site form, gets the refusal, not the stored answer;
* again, other body: 422;
* again while the first still runs: 409 with ``Retry-After``. If the first
  worker died, its lease runs out and a retry takes the key over (a conditional
  UPDATE: one retry wins) and runs. No state outlives a statement on a database
  connection, so this holds behind a transaction-mode pooler (PgBouncer) too.

"Same body" compares what the body says, not its bytes: JSON with its keys sorted;
a POSTed form (multipart or urlencoded) by its fields and, for each file, its field,
file name and SHA-256, since a client writes a new multipart boundary on every send.

All state lives in PostgreSQL, so this holds across workers and servers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import BadRequest
from django.db import connection
from django.db.models import F
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.settings import api_settings

from maintenance.api.authentication import one_lookup_per_request
from maintenance.api.exceptions import API_NOT_FOUND
from maintenance.http.timing import current_request_id
from maintenance.idempotency.models import ProcessedRequest

logger = logging.getLogger(__name__)

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255
MAX_PATH_LENGTH = ProcessedRequest._meta.get_field("path").max_length
ORDER_CREATE_PATH = "/api/v1/orders"
# Exactly the types Django's request.POST parses (request.content_type has no parameters).
FORM_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}
# Responses that say nothing ran: not stored, so a retry runs for real.
NOT_STORED_STATUSES = {401, 403, 413, 429}
TABLE = ProcessedRequest._meta.db_table
# The reservation with its lease: an INSERT against the unique key; no row back means the key exists.
# SQL because the holder needs the new row's id in the same round trip, and the ORM's
# bulk_create(ignore_conflicts=True) returns no id on PostgreSQL (get_or_create takes two statements
# and a savepoint).
RESERVE_SQL = (
    f"INSERT INTO {TABLE} (key, user_id, method, path, fingerprint, state, response_content_type, "
    "replay_count, created_at, lease_token, lease_expires_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, '', 0, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id"
)


def _error(status: int, detail: str, code: str, headers: dict | None = None, field: str | None = None) -> JsonResponse:
    body = {"detail": detail, "code": code, "request_id": current_request_id.get()}
    if field:
        body["field"] = field
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def read_body(request) -> bytes | None:
    try:
        return request.body
    except Exception:  # too large, or the client went away: the view's parser reports it
        return None


def canonical_body(raw: bytes, content_type: str) -> bytes:
    if content_type.startswith("application/json"):
        try:
            return json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):  # not JSON, or nested too deeply: the view's parser answers 400
            return raw
    return raw


def canonical_form(request) -> bytes:
    """A POSTed form as Django parsed it: the fields sorted by name, and each file's field, name and SHA-256.

    The raw bytes of a retry differ (a new multipart boundary); its form does not. Django
    parses the form once, a large file into a temporary file rather than memory (the body
    is never read whole), and DRF's request takes that parse as it is; the files are
    hashed in chunks and rewound for the view.
    """
    files = []
    for name, uploads in sorted(request.FILES.lists()):
        for upload in uploads:
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
            files.append([name, upload.name, digest.hexdigest()])
    return json.dumps({"fields": sorted(request.POST.lists()), "files": files}, separators=(",", ":")).encode()


def canonical_request_body(request, content_type: str) -> bytes | None:
    """What the fingerprint covers of the body, or None when it cannot be read (the view says why).

    Django parses forms of POSTs only: a PATCH's form counts as its raw bytes.
    """
    if request.method == "POST" and content_type in FORM_TYPES:
        try:
            return canonical_form(request)
        except BadRequest:  # a form in another charset than UTF-8: Django refuses it, DRF's FormParser does not
            pass
    body = read_body(request)
    return None if body is None else canonical_body(body, content_type)


def storable(text: str) -> bool:
    """Whether PostgreSQL can store ``text``: text columns refuse NUL, and a lone surrogate has no UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def authenticate(request):
    """Run the API's authenticators, so keys can be scoped to the user before the view runs."""
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        return request.user
    drf_request = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        user = drf_request.user
    except Exception:  # bad credentials: the view answers 401/403 itself
        return None
    return user if user is not None and user.is_authenticated else None


def refusal_of_a_fresh_request(request, match) -> HttpResponse | None:
    """What the view would refuse this request with before doing anything, or None.

    A replay must be allowed as the first request was: the view's own authentication
    (DRF's session authentication enforces CSRF), permission and throttle checks run
    through ``APIView.initial()``, on a view built as DRF's ``as_view()`` builds it
    from what it leaves on the view function (``cls``, ``initkwargs``, and ``actions``
    for a viewset, which routers and schema generators read too). Object permissions
    are not checked: the project's permissions are by model.
    """
    view_class = getattr(match.func, "cls", None)
    if view_class is None:
        return None
    view = view_class(**getattr(match.func, "initkwargs", {}))
    actions = getattr(match.func, "actions", None)
    if actions:  # a viewset: bind its action as ViewSetMixin.as_view() does
        view.action_map = actions
        for method, action in actions.items():
            setattr(view, method, getattr(view, action))
    view.args, view.kwargs = match.args, match.kwargs
    drf_request = view.initialize_request(request, *match.args, **match.kwargs)
    view.request, view.headers = drf_request, view.default_response_headers
    try:
        view.initial(drf_request, *match.args, **match.kwargs)
    except Exception as exc:
        response = view.finalize_response(drf_request, view.handle_exception(exc), *match.args, **match.kwargs)
        response.render()
        return response
    return None


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("POST", "PATCH") or not request.path.startswith("/api/"):
            return self.get_response(request)
        # The user is needed here (keys are per user) and again by the view: one token query for both.
        with one_lookup_per_request():
            return self._call(request)

    def _call(self, request):
        path = request.path.rstrip("/") or "/"
        content_type = request.content_type or ""
        key, field = request.META.get(HEADER), None
        if key is None and request.method == "POST" and path == ORDER_CREATE_PATH:
            key, field = self._request_id_from_body(request, content_type), "request_id"
        if key is None:
            return self.get_response(request)
        key = str(key)
        # A key the table cannot hold would be a 500 when it is stored.
        if not key or len(key) > MAX_KEY_LENGTH or not storable(key):
            if field:
                detail = f"{field} must be 1 to {MAX_KEY_LENGTH} characters: it is the request's idempotency key."
            else:
                detail = f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} characters, without NUL."
            return _error(400, detail, "invalid_key", field=field)
        # A path the table cannot hold names nothing here (the resolver or the lookup answers 404):
        # it runs without idempotency, where storing it would be a 500.
        if len(path) > MAX_PATH_LENGTH or not storable(path):
            return self.get_response(request)
        # A path no view answers gets the resolver's 404, not a stored record of it.
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if match.url_name == API_NOT_FOUND:  # the catch-all JSON 404 under /api/
            return self.get_response(request)
        user = authenticate(request)
        if user is None:
            return self.get_response(request)
        try:
            body = canonical_request_body(request, content_type)
        except MultiPartParserError as exc:
            # Django keeps an empty form after this, which is all the view would see: answer as DRF's parser would.
            return _error(400, f"Multipart form parse error - {exc}", "parse_error")
        if body is None:
            return self.get_response(request)
        return self._handle(request, match, user, path, key, fingerprint(request.method, path, body))

    @staticmethod
    def _request_id_from_body(request, content_type: str):
        if not content_type.startswith("application/json"):
            return None
        body = read_body(request)
        if body is None:
            return None
        try:
            data = json.loads(body or b"null")
        except (ValueError, RecursionError):  # the view's parser answers 400 (after authentication)
            return None
        value = data.get("request_id") if isinstance(data, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        if isinstance(value, str) and not storable(value):
            return None  # NUL or a lone surrogate: no key; the serializer refuses it with a field error
        return str(value)

    def _handle(self, request, match, user, path, key, digest):
        lease = uuid.uuid4().hex
        record_id, response = self._reserve(request, match, user, path, key, digest, lease)
        if response is not None:
            return response
        try:
            response = self.get_response(request)
        except BaseException:
            self._release(record_id, lease)
            raise
        self._finish(record_id, response, lease)
        return response

    def _reserve(self, request, match, user, path, key, digest, lease: str):
        """Return (record id, None) to run the view, or (None, response) to answer at once.

        The reservation is one autocommitted ``INSERT … ON CONFLICT DO NOTHING``
        against the unique key: no explicit transaction, one round trip.
        """
        now = timezone.now()
        window = timedelta(seconds=settings.IDEMPOTENCY_WINDOW_SECONDS)
        leased_until = now + timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
        lookup = {"user": user, "method": request.method, "path": path, "key": key}
        for _ in range(3):
            with connection.cursor() as cursor:
                cursor.execute(
                    RESERVE_SQL,
                    [
                        key,
                        user.pk,
                        request.method,
                        path,
                        digest,
                        ProcessedRequest.State.IN_PROGRESS,
                        now,
                        lease,
                        leased_until,
                    ],
                )
                row = cursor.fetchone()
            if row is not None:
                return row[0], None
            # If the request before us is storing its answer right now, the INSERT above
            # waited for that to commit (PostgreSQL's unique check waits for a row's
            # in-progress updater), so what we read here is the outcome.
            existing = ProcessedRequest.objects.filter(**lookup).first()
            if existing is None:
                continue  # purged meanwhile: try the INSERT again
            if existing.created_at < now - window:
                ProcessedRequest.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
                continue
            if existing.fingerprint != digest:
                return None, _error(
                    422,
                    "This idempotency key was already used for a different request "
                    "(other method, path or body). Use a new key for a new request.",
                    "idempotency_key_reused",
                )
            if existing.state == ProcessedRequest.State.IN_PROGRESS:
                # A key reserved before leases existed (during an upgrade) is held as long as one.
                held_until = existing.lease_expires_at or existing.created_at + (leased_until - now)
                if held_until > now:
                    return None, self._in_flight()
                # Its holder's lease ran out (its worker died): take the key over, unless
                # another retry just did (the UPDATE matches the old holder only).
                taken = ProcessedRequest.objects.filter(
                    pk=existing.pk, state=ProcessedRequest.State.IN_PROGRESS, lease_token=existing.lease_token
                ).update(lease_token=lease, lease_expires_at=leased_until, created_at=now)
                return (existing.pk, None) if taken else (None, self._in_flight())
            refused = refusal_of_a_fresh_request(request, match)
            if refused is not None:
                return None, refused
            ProcessedRequest.objects.filter(pk=existing.pk).update(replay_count=F("replay_count") + 1)
            return None, self._replay(existing)
        return None, self._in_flight()

    @staticmethod
    def _release(record_id: int, lease: str) -> None:
        """Forget the key (the request did not complete), if this request still holds it."""
        ProcessedRequest.objects.filter(pk=record_id, lease_token=lease).delete()

    @classmethod
    def _finish(cls, record_id: int, response, lease: str) -> None:
        """Store the response with the key, if this request still holds it (its lease was not taken over)."""
        status = response.status_code
        if status >= 500 or status in NOT_STORED_STATUSES or getattr(response, "streaming", False):
            cls._release(record_id, lease)
            return
        stored = ProcessedRequest.objects.filter(pk=record_id, lease_token=lease).update(
            state=ProcessedRequest.State.COMPLETED,
            response_status=status,
            response_body=response.content,
            response_content_type=response.get("Content-Type", ""),
            completed_at=timezone.now(),
            lease_expires_at=None,
        )
        if not stored:
            logger.warning("idempotency key %s was taken over before its answer was stored", record_id)

    @staticmethod
    def _in_flight():
        return _error(
            409,
            "A request with this key is still being processed; retry later.",
            "idempotency_key_in_use",
            headers={"Retry-After": "1"},
        )

    @staticmethod
    def _replay(record: ProcessedRequest) -> HttpResponse:
        response = HttpResponse(
            bytes(record.response_body or b""),
            status=record.response_status,
            content_type=record.response_content_type or "application/json",
        )
        response["Idempotent-Replayed"] = "true"
        return response

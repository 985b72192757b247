import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
import requests
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from conftest import client_for, make_user, token_for
from inventory.models import Category, SparePart, StockMovement
from inventory.tests.factories import SparePartFactory
from maintenance.idempotency.models import ProcessedRequest
from orders.models import ServiceOrder


def order(part, request_id="key-1", quantity=1, **extra):
    return {"request_id": request_id, "items": [{"spare_part_id": part.pk, "quantity": quantity}], **extra}


@pytest.mark.django_db
def test_replay_returns_identical_body_and_status_without_running_again(api):
    part = SparePartFactory(stock=5)
    first = api.post("/api/v1/orders/", order(part), format="json")
    second = api.post("/api/v1/orders/", order(part), format="json")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert ServiceOrder.objects.count() == 1
    part.refresh_from_db()
    assert part.stock == 4
    assert ProcessedRequest.objects.get().replay_count == 1


@pytest.mark.django_db
def test_key_order_in_json_does_not_change_the_fingerprint(api):
    part = SparePartFactory(stock=5)
    body = order(part)
    api.post("/api/v1/orders/", body, format="json")
    reordered = json.dumps(dict(reversed(list(body.items()))))
    replay = api.generic("POST", "/api/v1/orders/", reordered, content_type="application/json")
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_same_key_different_payload_is_422_and_nothing_runs(api):
    part = SparePartFactory(stock=5)
    api.post("/api/v1/orders/", order(part, quantity=1), format="json")
    response = api.post("/api/v1/orders/", order(part, quantity=2), format="json")
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    part.refresh_from_db()
    assert part.stock == 4
    assert ServiceOrder.objects.count() == 1


@pytest.mark.django_db
def test_idempotency_key_header_on_any_post_or_patch(api):
    part = SparePartFactory(sku="A-STL-M10-50", stock=5)
    headers = {"HTTP_IDEMPOTENCY_KEY": "adjust-1"}
    url = "/api/v1/items/A-STL-M10-50/adjust-stock/"
    first = api.post(url, {"delta": 2}, format="json", **headers)
    again = api.post(url, {"delta": 2}, format="json", **headers)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    part.refresh_from_db()
    assert part.stock == 7
    patch1 = api.patch("/api/v1/items/A-STL-M10-50", {"price": "3.00"}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    patch2 = api.patch("/api/v1/items/A-STL-M10-50/", {"price": "3.00"}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    assert patch1.status_code == 200
    assert patch2["Idempotent-Replayed"] == "true"  # with or without the trailing slash


@pytest.mark.django_db
def test_header_key_takes_precedence_over_request_id(api):
    part = SparePartFactory(stock=5)
    api.post("/api/v1/orders/", order(part, "rid-1"), format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    # Same header, same body: replay.
    replay = api.post("/api/v1/orders/", order(part, "rid-1"), format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert ServiceOrder.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_user(superuser):
    part = SparePartFactory(stock=5)
    alice = client_for(make_user("alice", is_superuser=True, is_staff=True))
    bob = client_for(make_user("bob", is_superuser=True, is_staff=True))
    a = alice.post("/api/v1/orders/", order(part, "shared"), format="json")
    b = bob.post("/api/v1/orders/", order(part, "shared"), format="json")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["created_by"] == "bob"
    part.refresh_from_db()
    assert part.stock == 3


@pytest.mark.django_db
def test_expired_key_counts_as_new(api, settings):
    part = SparePartFactory(stock=5)
    api.post("/api/v1/orders/", order(part, "old"), format="json")
    ProcessedRequest.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_WINDOW_SECONDS + 1)
    )
    # The order itself still exists: the same order again gets that order, never a second one...
    again = api.post("/api/v1/orders/", order(part, "old"), format="json")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert ServiceOrder.objects.count() == 1
    # ...and, once that key expired too, other items under that request_id are refused.
    ProcessedRequest.objects.update(created_at=timezone.now() - timedelta(days=2))
    other = api.post("/api/v1/orders/", order(part, "old", quantity=2), format="json")
    assert other.status_code == 409
    assert other.json()["code"] == "duplicate_request"
    part.refresh_from_db()
    assert part.stock == 4
    # With a header key the expired key simply runs again.
    url = f"/api/v1/items/{part.sku}/adjust-stock/"
    api.post(url, {"delta": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    ProcessedRequest.objects.filter(key="k").update(created_at=timezone.now() - timedelta(days=2))
    rerun = api.post(url, {"delta": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert "Idempotent-Replayed" not in rerun
    part.refresh_from_db()
    assert part.stock == 4 + 2


@pytest.mark.django_db
def test_purge_command_deletes_only_expired_keys(api):
    part = SparePartFactory(stock=5)
    api.post("/api/v1/orders/", order(part, "a"), format="json")
    api.post("/api/v1/orders/", order(part, "b"), format="json")
    ProcessedRequest.objects.filter(key="a").update(created_at=timezone.now() - timedelta(days=3))
    call_command("purge_idempotency_keys")
    assert list(ProcessedRequest.objects.values_list("key", flat=True)) == ["b"]


@pytest.mark.django_db
def test_server_error_releases_the_key(api, monkeypatch):
    part = SparePartFactory(stock=5)
    from orders import views

    def boom(**kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(views.services, "place_order", boom)
    api.raise_request_exception = False
    failed = api.post("/api/v1/orders/", order(part, "crash"), format="json")
    assert failed.status_code == 500
    assert not ProcessedRequest.objects.exists()
    monkeypatch.undo()
    retry = api.post("/api/v1/orders/", order(part, "crash"), format="json")
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry


@pytest.mark.django_db
def test_client_errors_are_stored_and_replayed(api):
    part = SparePartFactory(stock=1)
    first = api.post("/api/v1/orders/", order(part, "big", quantity=5), format="json")
    assert first.status_code == 409
    second = api.post("/api/v1/orders/", order(part, "big", quantity=5), format="json")
    assert second.status_code == 409
    assert second["Idempotent-Replayed"] == "true"


def _held(user, key: str, body: dict, *, lease_seconds: float) -> ProcessedRequest:
    """A key reserved by a request still running elsewhere, its lease running out in ``lease_seconds``."""
    from maintenance.idempotency.middleware import canonical_body, fingerprint

    now = timezone.now()
    path = "/api/v1/orders"
    return ProcessedRequest.objects.create(
        key=key,
        user=user,
        method="POST",
        path=path,
        fingerprint=fingerprint("POST", path, canonical_body(json.dumps(body).encode(), "application/json")),
        created_at=now,
        lease_token="other-holder",
        lease_expires_at=now + timedelta(seconds=lease_seconds),
    )


@pytest.mark.django_db
def test_in_flight_key_is_409_with_retry_after(api, superuser):
    """While another request holds the key's lease, a second request is refused, not run."""
    part = SparePartFactory(stock=5)
    _held(superuser, "busy", order(part, "busy"), lease_seconds=30)
    response = api.post("/api/v1/orders/", order(part, "busy"), format="json")
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert "still being processed" in response.json()["detail"]
    assert not ServiceOrder.objects.exists()


@pytest.mark.django_db
def test_a_key_whose_holder_died_is_taken_over_once_its_lease_ran_out(api, superuser):
    """Issue 23: no session state (an advisory lock) marks a key in flight; a lease does, and it expires."""
    part = SparePartFactory(stock=5)
    held = _held(superuser, "orphan", order(part, "orphan"), lease_seconds=-1)
    retry = api.post("/api/v1/orders/", order(part, "orphan"), format="json")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    record = ProcessedRequest.objects.get(pk=held.pk)
    assert (record.state, record.response_status, record.lease_expires_at) == ("completed", 201, None)
    assert record.lease_token != "other-holder"
    assert ServiceOrder.objects.count() == 1


@pytest.mark.django_db
def test_a_holder_whose_key_was_taken_over_does_not_store_its_answer():
    """The slow holder finishes after its lease ran out and another request took the key: the new
    holder's outcome stands (its release or its answer), not the slow one's."""
    from django.http import HttpResponse

    from maintenance.idempotency.middleware import IdempotencyMiddleware

    record = ProcessedRequest.objects.create(
        key="slow", method="POST", path="/p", fingerprint="f", created_at=timezone.now(), lease_token="new-holder"
    )
    IdempotencyMiddleware._finish(record.pk, HttpResponse(b"{}", status=201), "old-holder")
    IdempotencyMiddleware._release(record.pk, "old-holder")
    record.refresh_from_db()
    assert (record.state, record.response_status, record.lease_token) == ("in_progress", None, "new-holder")
    IdempotencyMiddleware._finish(record.pk, HttpResponse(b"{}", status=201), "new-holder")
    record.refresh_from_db()
    assert (record.state, record.response_status) == ("completed", 201)


@pytest.mark.django_db
@pytest.mark.parametrize("request_id", ["", "x" * 256])
def test_unusable_request_id_is_400_naming_the_field(api, request_id):
    part = SparePartFactory(stock=5)
    response = api.post("/api/v1/orders/", order(part, request_id), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "request_id"
    assert body["code"] == "invalid_key"
    assert body["detail"].startswith("request_id must be 1 to 255 characters")
    assert body["request_id"] == response["X-Request-ID"]
    assert not ServiceOrder.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "a\x00b", "\ud800"])
def test_unusable_header_key_is_400(api, key):
    part = SparePartFactory(stock=5)
    response = api.post("/api/v1/orders/", order(part), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_key"
    assert body["detail"].startswith("The Idempotency-Key header must be 1 to 255 characters")
    assert "field" not in body
    assert not ServiceOrder.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("request_id", "message"), [("\ud800", "Surrogate characters"), ("a\x00b", "Null characters")])
def test_request_id_that_cannot_be_stored_is_left_to_the_serializer(api, request_id, message):
    """Valid JSON, but no key the table can hold: the request runs without one and the serializer refuses it."""
    part = SparePartFactory(stock=5)
    body = json.dumps(order(part, request_id))  # escaped: "\\ud800", "\\u0000"
    response = api.generic("POST", "/api/v1/orders/", body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["request_id"][0]
    assert not ProcessedRequest.objects.exists()
    assert not ServiceOrder.objects.exists()


@pytest.mark.live
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_parallel_copies_run_once(live_server_url):
    user = make_user(is_superuser=True, is_staff=True)
    headers = {"Authorization": f"Token {token_for(user)}"}
    part = SparePartFactory(stock=100)
    body = order(part, "storm-1", quantity=3)
    barrier = Barrier(20)

    def send(_):
        barrier.wait(timeout=30)
        return requests.post(f"{live_server_url}/api/v1/orders/", json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))

    created = [r for r in responses if r.status_code == 201]
    assert all(r.status_code in (201, 409) for r in responses), [r.status_code for r in responses]
    assert len({r.json()["id"] for r in created}) == 1
    assert sum(1 for r in created if "Idempotent-Replayed" not in r.headers) == 1
    for r in responses:
        if r.status_code == 409:
            assert "still being processed" in r.json()["detail"]
    assert ServiceOrder.objects.count() == 1
    part.refresh_from_db()
    assert part.stock == 97
    assert StockMovement.objects.filter(spare_part=part).aggregate(s=Sum("delta"))["s"] == 97
    # After the first finished, a retry replays.
    retry = requests.post(f"{live_server_url}/api/v1/orders/", json=body, headers=headers, timeout=30)
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert SparePart.objects.get(pk=part.pk).stock == 97


@pytest.mark.live
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_retry_waits_for_the_answer_being_stored_instead_of_running_again(live_server_url):
    """The lock is released in the statement that stores the answer, before it commits.

    A retry that takes the lock in that moment must wait for the commit and replay the
    answer, not find the key "in progress" and take it over.
    """
    import psycopg
    from django.db import connection

    from maintenance.idempotency.middleware import canonical_body, fingerprint

    user = make_user(is_superuser=True, is_staff=True)
    part = SparePartFactory(stock=10)
    body = order(part, "race-1")
    digest = fingerprint("POST", "/api/v1/orders", canonical_body(json.dumps(body).encode(), "application/json"))
    record = ProcessedRequest.objects.create(
        key="race-1", user=user, method="POST", path="/api/v1/orders", fingerprint=digest, created_at=timezone.now()
    )
    with psycopg.connect(**connection.get_connection_params()) as first:  # the first request, finishing
        first.execute(
            "UPDATE idempotency_processedrequest SET state = 'completed', response_status = 201, "
            "response_body = %s, response_content_type = 'application/json', completed_at = now() WHERE id = %s",
            [b'{"stored": true}', record.pk],
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            retry = pool.submit(
                requests.post,
                f"{live_server_url}/api/v1/orders/",
                json=body,
                headers={"Authorization": f"Token {token_for(user)}"},
                timeout=30,
            )
            time.sleep(1)
            assert not retry.done()  # waiting for the first request's commit
            first.commit()
            response = retry.result()
    assert response.status_code == 201
    assert response.content == b'{"stored": true}'
    assert response.headers["Idempotent-Replayed"] == "true"
    assert not ServiceOrder.objects.exists()
    assert SparePart.objects.get(pk=part.pk).stock == 10


DEEP_JSON = "[" * 1000 + "]" * 1000


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/categories/", "/api/v1/orders/"])
def test_json_nested_too_deeply_under_a_key_is_a_stored_parse_error(api, path):
    """The middleware's own look at the body must not fail first: the parser's 400 is answered and replayed."""
    first = api.generic("POST", path, DEEP_JSON, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep")
    again = api.generic("POST", path, DEEP_JSON, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep")
    assert first.status_code == again.status_code == 400
    assert first.json()["code"] == "parse_error"
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_json_nested_too_deeply_from_anyone_is_no_500(anon):
    """The body's request_id is looked for before authentication: deep nesting there is no key, and then a 401."""
    response = anon.generic("POST", "/api/v1/orders/", DEEP_JSON, content_type="application/json")
    assert response.status_code == 401
    assert not ProcessedRequest.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/orders/" + "x" * 300),
        ("POST", "/api/v1/orders/a%00b/"),
        ("PATCH", "/api/v1/orders/" + "9" * 300),
        ("PATCH", "/api/v1/items/a%00b"),
        ("POST", "/api/v1/items/a%00b/adjust-stock/"),
    ],
)
def test_path_the_table_cannot_hold_is_the_plain_404(api, method, path):
    """Too long for the path column, or with a NUL: the request is answered as without a key."""
    keyed = api.generic(method, path, '{"delta": 1}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert keyed.status_code == 404
    assert keyed.json()["code"] == "not_found"
    assert not ProcessedRequest.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # autocommit, as in production
def test_a_failed_reservation_leaves_the_key_free_at_once(api, superuser):
    """The reservation fails on a statement timeout, waiting for another transaction that inserted
    the same key: the answer is a 503, and nothing of it holds the key (a retry runs at once)."""
    import psycopg
    from django.db import connection

    part = SparePartFactory(stock=5)
    url = f"/api/v1/items/{part.sku}/adjust-stock/"
    path = url.rstrip("/")
    params = connection.get_connection_params()
    api.raise_request_exception = False
    with psycopg.connect(**params) as other:  # its transaction stays open while the request runs
        other.execute(
            "INSERT INTO idempotency_processedrequest (key, user_id, method, path, fingerprint, state, "
            "response_content_type, replay_count, created_at) "
            "VALUES ('stuck', %s, 'POST', %s, 'f', 'in_progress', '', 0, now())",
            [superuser.pk, path],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 300")
        try:
            failed = api.post(url, {"delta": 1}, format="json", HTTP_IDEMPOTENCY_KEY="stuck")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
        other.rollback()
    assert failed.status_code == 503
    assert failed.json()["code"] == "database_timeout"
    assert not ProcessedRequest.objects.filter(key="stuck").exists()
    retry = api.post(url, {"delta": 1}, format="json", HTTP_IDEMPOTENCY_KEY="stuck")
    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry
    part.refresh_from_db()
    assert part.stock == 6


@pytest.mark.django_db
def test_form_fields_count_by_name_not_by_their_order(api):
    """A form body's fingerprint is its parsed fields, sorted: the order a client writes them in does not count."""

    def send(body):
        return api.generic(
            "POST", "/api/v1/categories/", body, "application/x-www-form-urlencoded", HTTP_IDEMPOTENCY_KEY="f"
        )

    first = send("name=Bearings&description=Ball")
    again = send("description=Ball&name=Bearings")
    other = send("name=Bearings&description=Roller")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert list(Category.objects.values_list("name", flat=True)) == ["Bearings"]


@pytest.mark.django_db
def test_a_replay_is_refused_to_a_user_who_lost_the_permission(roles):
    """Issue 22: a replay returned the stored answer without checking the user's current permissions."""
    from django.contrib.auth.models import Group

    from maintenance.accounts.roles import TECHNICIANS

    part = SparePartFactory(stock=5)
    technician = make_user("tech-replay", groups=(TECHNICIANS,))
    client = client_for(technician)
    first = client.post("/api/v1/orders/", order(part, "replay-perm"), format="json")
    assert first.status_code == 201
    technician.groups.remove(Group.objects.get(name=TECHNICIANS))
    technician = type(technician).objects.get(pk=technician.pk)  # no permission cache
    again = client.post("/api/v1/orders/", order(part, "replay-perm"), format="json")
    assert again.status_code == 403, again.content
    assert "Idempotent-Replayed" not in again
    assert ProcessedRequest.objects.get(key="replay-perm").replay_count == 0


@pytest.mark.django_db
def test_a_replay_in_a_session_needs_the_csrf_token_as_the_first_request_did(superuser):
    """Issue 22: a replay skipped the session's CSRF check: a forged cross-site form got the stored answer."""
    from django.test import Client

    part = SparePartFactory(stock=5)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(superuser)
    browser.get("/admin/")  # a page that gives the CSRF cookie
    token = browser.cookies["csrftoken"].value
    body = json.dumps(order(part, "csrf-replay"))
    first = browser.post("/api/v1/orders/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert first.status_code == 201, first.content
    forged = browser.post("/api/v1/orders/", body, content_type="application/json")  # no token
    assert forged.status_code == 403, forged.content
    assert "CSRF" in forged.json()["detail"] and "Idempotent-Replayed" not in forged
    replayed = browser.post("/api/v1/orders/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()


@pytest.mark.django_db
def test_a_key_reserved_before_leases_existed_is_held_as_long_as_a_lease(api, superuser):
    """During an upgrade an older worker may hold a key without a lease: not taken over at once."""
    part = SparePartFactory(stock=5)
    held = _held(superuser, "upgrade", order(part, "upgrade"), lease_seconds=30)
    ProcessedRequest.objects.filter(pk=held.pk).update(lease_token="", lease_expires_at=None)
    assert api.post("/api/v1/orders/", order(part, "upgrade"), format="json").status_code == 409
    ProcessedRequest.objects.filter(pk=held.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert api.post("/api/v1/orders/", order(part, "upgrade"), format="json").status_code == 201

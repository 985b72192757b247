"""Two app servers, one PostgreSQL behind PgBouncer (transaction mode), nginx in front (issue 23).

Every request goes through nginx unless a test needs one server in particular; each answer
says which server gave it (``X-Upstream``), and each test checks that both servers served.
The counts are the issue's: 48 keys x 4 concurrent sends, 1,000 orders for 500 units at
concurrency 16.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import threading
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Sum

from conftest import make_user, token_for
from inventory.models import SparePart
from inventory.tests.factories import SparePartFactory
from inventory.tests.test_admin import assert_ledger_consistent
from maintenance.accounts.services import issue_api_token
from orders.models import ServiceOrder, ServiceOrderItem
from tests.scale.conftest import USER_RATE_PER_MINUTE, api_users, send_all
from tests.security.conftest import admin_session

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ORDERS = "/api/v1/orders/"


def order_request(cluster, headers, part, request_id, quantity=1):
    body = {"request_id": request_id, "items": [{"spare_part_id": part.pk, "quantity": quantity}]}
    return ("POST", f"{cluster.url}{ORDERS}", {"json": body, "headers": headers})


def assert_nothing_half_written():
    """Every order has its line, and every part's stock is the sum of its ledger."""
    assert not ServiceOrder.objects.annotate(lines=Count("items")).filter(lines=0).exists()
    assert_ledger_consistent()


def test_the_servers_reach_postgresql_through_pgbouncer_in_transaction_mode(cluster):
    responses = send_all([("GET", f"{cluster.url}/api/v1/items/", {"headers": api_users(1)[0]})] * 6, concurrency=2)
    assert [r.status_code for r in responses] == [200] * 6
    assert {cluster.server_of(r) for r in responses} == {0, 1}
    name = settings.DATABASES["default"]["NAME"]
    (pool,) = [row for row in cluster.bouncer.show("POOLS") if row["database"] == name]
    assert pool["pool_mode"] == "transaction"
    (stats,) = [row for row in cluster.bouncer.show("STATS") if row["database"] == name]
    assert stats["total_xact_count"] >= 6
    # The statement timeout the app cannot send through the pooler is set by it.
    with psycopg.connect(cluster.bouncer.url(name), autocommit=True) as conn:
        assert (
            conn.execute("SHOW statement_timeout").fetchone()[0] == f"{cluster.bouncer.statement_timeout_ms() // 1000}s"
        )


def test_a_replay_storm_over_both_servers_makes_one_order_per_key(cluster):
    """48 keys, each sent 4 times at once: copies of a key land on both servers, one order each."""
    users = api_users(4)  # 48 orders and their retries stay well under each user's limit
    part = SparePartFactory(stock=1000)
    keys = [(users[n % 4], f"storm-{n}") for n in range(48)]
    sends = [order_request(cluster, headers, part, key) for headers, key in keys for _ in range(4)]

    responses = send_all(sends, concurrency=16)

    assert {r.status_code for r in responses} <= {201, 409}, Counter(r.status_code for r in responses)
    assert {cluster.server_of(r) for r in responses} == {0, 1}
    copies = [responses[n * 4 : n * 4 + 4] for n in range(48)]
    assert any(len({cluster.server_of(r) for r in four}) == 2 for four in copies)
    for (headers, key), four in zip(keys, copies, strict=True):
        created = [r for r in four if r.status_code == 201]
        assert len({r.json()["id"] for r in created}) <= 1
        assert sum("Idempotent-Replayed" not in r.headers for r in created) <= 1
        # Whichever copies were turned away while the first ran get its answer now.
        (_, url, kwargs) = order_request(cluster, headers, part, key)
        for _ in range(40):
            replay = requests.post(url, timeout=30, **kwargs)
            if replay.status_code != 409:
                break
            time.sleep(0.1)
        assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
        assert all(r.json()["id"] == replay.json()["id"] for r in created)
    assert ServiceOrder.objects.count() == 48
    assert SparePart.objects.get(pk=part.pk).stock == 1000 - 48
    assert_nothing_half_written()


def test_a_sell_out_over_both_servers_accepts_exactly_the_stock(cluster):
    """1,000 one-unit orders for 500 units, 16 at a time: 500 accepted, 500 refused, none oversold."""
    users = api_users(16)  # ~63 orders each, under each user's limit
    part = SparePartFactory(stock=500)
    sends = [order_request(cluster, users[n % 16], part, f"sell-{n}") for n in range(1000)]

    responses = send_all(sends, concurrency=16)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 500, 409: 500}, statuses
    assert {cluster.server_of(r) for r in responses if r.status_code == 201} == {0, 1}
    assert SparePart.objects.get(pk=part.pk).stock == 0
    assert ServiceOrder.objects.count() == 500
    assert ServiceOrderItem.objects.aggregate(total=Sum("quantity"))["total"] == 500
    assert_nothing_half_written()


def test_a_users_limit_holds_over_both_servers(cluster):
    """N requests a minute means N, whichever server and worker answers each one."""
    limited, other = api_users(2)
    # All in one window of the sliding-window counter: not within 15 s of its end.
    seconds_into_window = time.time() % 60
    if seconds_into_window > 45:
        time.sleep(60.5 - seconds_into_window)
    url = f"{cluster.url}/api/v1/categories/"
    sends = [("GET", url, {"headers": limited})] * (USER_RATE_PER_MINUTE + 100)

    responses = send_all(sends, concurrency=8)

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) == {200, 429}, statuses
    assert abs(statuses[200] - USER_RATE_PER_MINUTE) <= USER_RATE_PER_MINUTE * 0.05, statuses
    served = Counter(cluster.server_of(r) for r in responses if r.status_code == 200)
    assert len(served) == 2 and min(served.values()) >= USER_RATE_PER_MINUTE // 4, served
    assert all(int(r.headers["Retry-After"]) > 0 for r in responses if r.status_code == 429)
    # Another user's count is their own.
    assert requests.get(url, headers=other, timeout=30).status_code == 200


def answers(url, headers) -> set[int]:
    """The statuses of 8 requests, 4 at a time: every worker of the server answers one or more."""
    return {
        r.status_code for r in send_all([("GET", f"{url}/api/v1/categories/", {"headers": headers})] * 8, concurrency=4)
    }


def test_a_token_deleted_on_one_server_is_refused_by_the_other_at_once(cluster):
    """Tokens are read from the database on every request: nothing for a worker to remember or forget."""
    clerk = make_user("scale-clerk", is_staff=True, is_superuser=True)
    issued = issue_api_token(user=clerk)
    revoked = {"Authorization": f"Token {issued.key}"}
    first, second = (server.url for server in cluster.servers)
    assert answers(first, revoked) == answers(second, revoked) == {200}

    session, status = admin_session(first, "scale-clerk")
    assert status == 302
    delete_url = f"{first}/admin/accounts/apitoken/{issued.token.pk}/delete/"
    page = session.get(delete_url, timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    deleted = session.post(
        delete_url, data={"csrfmiddlewaretoken": csrf, "post": "yes"}, timeout=30, allow_redirects=False
    )
    assert deleted.status_code == 302
    assert answers(second, revoked) == answers(first, revoked) == {401}

    # A deactivated user likewise, here deactivated by a process of its own (another server's).
    user = make_user("scale-leaver", is_staff=True, is_superuser=True)
    leaver = {"Authorization": f"Token {token_for(user)}"}
    assert answers(first, leaver) == answers(second, leaver) == {200}
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert answers(first, leaver) == answers(second, leaver) == {401}


class ConfirmForm(HTMLParser):
    """The named inputs of the import preview's confirmation form."""

    def __init__(self):
        super().__init__()
        self.inside, self.action, self.fields = False, None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and "process_import" in (attrs.get("action") or ""):
            self.inside, self.action = True, attrs["action"]
        elif tag == "input" and self.inside and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def test_a_csv_import_previewed_on_one_server_is_confirmed_on_the_other(cluster):
    make_user("scale-manager", is_staff=True, is_superuser=True)
    session, status = admin_session(cluster.url, "scale-manager")
    assert status == 302
    import_url = f"{cluster.url}/admin/inventory/sparepart/import/"
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(import_url, timeout=30).text).group(1)
    csv = "sku,name,category,price,stock,min_stock\nB-CHR-20-47,Bearing 6204,,3.90,6,1\n"

    preview = session.post(
        import_url,
        data={"csrfmiddlewaretoken": csrf, "format": "0", "resource": ""},
        files={"import_file": ("parts.csv", csv, "text/csv")},
        timeout=30,
    )
    assert preview.status_code == 200
    form = ConfirmForm()
    form.feed(preview.text)
    assert form.fields.get("import_file_name"), preview.text[-3000:]
    assert not SparePart.objects.filter(sku="B-CHR-20-47").exists()
    # nginx takes turns (one worker process, round robin, nothing else in flight): the next
    # request goes to the other server, which never saw the upload.
    confirm = session.post(f"{cluster.url}{form.action}", data=form.fields, timeout=30, allow_redirects=False)

    assert confirm.status_code == 302, confirm.text[-3000:]
    assert cluster.server_of(confirm) != cluster.server_of(preview)
    assert SparePart.objects.get(sku="B-CHR-20-47").stock == 6
    assert_ledger_consistent()


def dead(pid: int) -> bool:
    """Gone, or a zombie: its sockets (the listening one too) are closed."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def crash(server) -> None:
    """The whole server killed at once, its workers mid-request (their clients at PgBouncer vanish mid-transaction)."""
    workers = server.worker_pids()
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    # The master is reaped; a worker may not have died yet, and still holds the listening socket.
    deadline = time.monotonic() + 10
    while not all(dead(pid) for pid in workers):
        assert time.monotonic() < deadline, "a killed worker lives on"
        time.sleep(0.01)


def order_until_answered(url, kwargs) -> requests.Response:
    """A client's retry: again after ``Retry-After`` while the key is held (by a request that was cut off)."""
    for _ in range(60):
        response = requests.post(url, timeout=60, **kwargs)
        if response.status_code != 409:
            return response
        time.sleep(float(response.headers["Retry-After"]))
    raise AssertionError("the key stayed held")


@pytest.mark.parametrize("how", ["graceful", "crash"])
def test_stopping_one_server_mid_load_loses_no_accepted_order(cluster, how):
    """A server stopped under load, gracefully (SIGTERM, as a deploy does) or by a crash (SIGKILL): every 201
    has its order, nothing is half-written, the other server answers every request sent after the stop, and a
    client's retry with the same key orders once."""
    users = api_users(8)
    part = SparePartFactory(stock=10_000)
    numbers = itertools.count()
    results = []  # (user's headers, request_id, response, started, finished)
    lock = threading.Lock()
    enough = threading.Event()

    def keep_ordering(user):
        while not enough.is_set():
            request_id = f"load-{next(numbers)}"
            _, url, kwargs = order_request(cluster, user, part, request_id)
            started = time.monotonic()
            response = requests.post(url, timeout=60, **kwargs)
            with lock:
                results.append((user, request_id, response, started, time.monotonic()))

    def wait_for(count, since=0.0):
        deadline = time.monotonic() + 60
        while sum(1 for *_, started, _finished in list(results) if started > since) < count:
            assert time.monotonic() < deadline, "the load stalled"
            time.sleep(0.01)

    threads = [threading.Thread(target=keep_ordering, args=(user,), daemon=True) for user in users]
    for thread in threads:
        thread.start()
    try:
        wait_for(60)
        if how == "graceful":
            cluster.servers[1].stop()  # SIGTERM: in-flight requests finish, the socket closes
        else:
            crash(cluster.servers[1])
        stopped_at = time.monotonic()
        wait_for(60, since=stopped_at)
    finally:
        enough.set()
        for thread in threads:
            thread.join(60)
        cluster.servers[1].start()

    statuses = Counter(response.status_code for _, _, response, _, _ in results)
    # A request cut off by the stop is a 502: nginx does not resend a POST it had sent. (Gracefully too:
    # connections still queued on the closing socket are reset; a deploy takes a server out of the
    # balancer before stopping it.)
    assert set(statuses) <= {201, 502}, statuses
    after_stop = [response for _, _, response, started, _ in results if started > stopped_at]
    assert {response.status_code for response in after_stop} == {201}
    assert {cluster.server_of(response) for response in after_stop} == {0}
    assert len({cluster.server_of(response) for _, _, response, _, _ in results}) == 2
    # Every accepted order is there, with its line.
    accepted = [response.json()["id"] for _, _, response, _, _ in results if response.status_code == 201]
    assert ServiceOrder.objects.filter(pk__in=accepted).count() == len(accepted)
    assert_nothing_half_written()
    # The client retries what it got no answer for: one order each, whatever became of the first try
    # (committed before the cut: replayed; rolled back: run now, once the dead request's lease ran out).
    for user, request_id, response, _, _ in results:
        if response.status_code != 201:
            _, url, kwargs = order_request(cluster, user, part, request_id)
            assert order_until_answered(url, kwargs).status_code == 201
    assert ServiceOrder.objects.count() == len(results)
    assert SparePart.objects.get(pk=part.pk).stock == 10_000 - len(results)
    assert_nothing_half_written()
    # The stopped server, started again, serves again.
    assert requests.get(f"{cluster.servers[1].url}/api/v1/categories/", headers=users[0], timeout=30).status_code == 200

"""The sliding-window counter throttle: the same limits as DRF's, at a constant cost."""

import io
import time
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework import throttling as drf_throttling

from conftest import make_user
from maintenance.api.models import RequestCount
from maintenance.api.throttling import AnonRateThrottle, UserRateThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(drf_throttling.SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})
    cache.clear()
    yield
    cache.clear()


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def throttle_at(clock: Clock, cls=UserRateThrottle):
    throttle = cls()
    throttle.timer = clock
    return throttle


def allowed(clock, request, cls=UserRateThrottle) -> bool:
    return throttle_at(clock, cls).allow_request(request, view=None)


def test_the_limit_holds_within_a_window_and_slides_out(three_a_minute):
    request = SimpleNamespace(user=make_user())
    clock = Clock(600 * 60 + 50.0)  # 50 s into a window
    assert [allowed(clock, request) for _ in range(4)] == [True, True, True, False]
    clock.now += 20  # 10 s into the next window: 3 * 5/6 = 2.5 of the last window still count
    assert allowed(clock, request)
    assert not allowed(clock, request)  # 2.5 + 1 ≥ 3
    clock.now += 30  # 40 s in: 3 * 1/3 + 1 = 2
    assert allowed(clock, request)


def test_wait_says_when_the_next_request_passes(three_a_minute):
    request = SimpleNamespace(user=make_user())
    clock = Clock(600 * 60 + 50.0)
    for _ in range(3):
        allowed(clock, request)
    refused = throttle_at(clock)
    assert not refused.allow_request(request, view=None)
    wait = refused.wait()
    assert 0 < wait <= 70
    clock.now += wait + 0.01
    assert allowed(clock, request)
    # One second earlier it would still have been refused (replay the same history to see).
    cache.clear()
    replay = Clock(600 * 60 + 50.0)
    for _ in range(3):
        allowed(replay, request)
    replay.now += wait - 1
    assert not allowed(replay, request)


def test_users_are_counted_apart_and_anonymous_clients_by_address(three_a_minute):
    clock = Clock(1000.0)
    first, second = SimpleNamespace(user=make_user()), SimpleNamespace(user=make_user())
    assert [allowed(clock, first) for _ in range(3)] == [True] * 3
    assert allowed(clock, second)
    anonymous = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")
    anonymous.user = AnonymousUser()
    assert [allowed(clock, anonymous, AnonRateThrottle) for _ in range(4)] == [True, True, True, False]


def test_two_counters_per_client_whatever_the_rate(three_a_minute, monkeypatch):
    monkeypatch.setattr(drf_throttling.SimpleRateThrottle, "THROTTLE_RATES", {"user": "100000/minute"})
    request = SimpleNamespace(user=make_user())
    clock = Clock(1000.0)
    for _ in range(500):
        clock.now += 0.05
        assert allowed(clock, request)
    key = throttle_at(clock).get_cache_key(request, None)
    # Two rows (this window's count and the last one's), no list of times.
    counts = dict(RequestCount.objects.filter(key=key).values_list("window", "count"))
    assert len(counts) == 2 and sum(counts.values()) == 500


def test_the_limit_holds_across_processes(three_a_minute):
    """Issue 23: counts were in each worker process's memory, so every process let the whole limit
    through. Another process shares nothing of this one's memory: emptying the local cache between
    requests stands for it. Together they allow 3, not 3 each."""
    request = SimpleNamespace(user=make_user())
    clock = Clock(600 * 60 + 10.0)
    outcomes = []
    for _ in range(6):
        cache.clear()  # the next request lands on another worker
        outcomes.append(allowed(clock, request))
    assert outcomes == [True, True, True, False, False, False]


def test_old_windows_are_purged(three_a_minute):
    from django.core.management import call_command

    request = SimpleNamespace(user=make_user())
    allowed(Clock(1000.0), request)  # a window of 1970
    allowed(Clock(time.time()), request)
    call_command("purge_request_counts", stdout=io.StringIO())
    assert list(RequestCount.objects.values_list("window", flat=True)) == [int(time.time() // 60)]


def orm_count_request(key: str, window: int, duration: float) -> tuple[int, int]:
    """The obvious ORM version of maintenance.api.throttling.count_request (three statements)."""
    from datetime import UTC, datetime

    from django.db import IntegrityError, transaction
    from django.db.models import F

    counts = RequestCount.objects.filter(key=key, window=window)
    if not counts.update(count=F("count") + 1):
        expires_at = datetime.fromtimestamp((window + 2) * duration, tz=UTC)
        try:
            with transaction.atomic():
                RequestCount.objects.create(key=key, window=window, count=1, expires_at=expires_at)
        except IntegrityError:
            counts.update(count=F("count") + 1)
    both = dict(RequestCount.objects.filter(key=key, window__in=(window - 1, window)).values_list("window", "count"))
    return both.get(window, 0), both.get(window - 1, 0)


def test_the_one_statement_count_equals_the_orm_version(django_assert_num_queries):
    from maintenance.api.throttling import count_request

    def run(count, prefix):
        answers = [count(f"{prefix}:a", window, 60) for window in (10, 10, 11, 11, 11, 13)]
        answers.append(count(f"{prefix}:b", 11, 60))
        rows = sorted(
            RequestCount.objects.filter(key__startswith=f"{prefix}:").values_list(
                "key", "window", "count", "expires_at"
            )
        )
        return answers, [(key.split(":")[1], *rest) for key, *rest in rows]

    with django_assert_num_queries(1):
        count_request("warm:a", 1, 60)
    assert run(count_request, "sql") == run(orm_count_request, "orm")

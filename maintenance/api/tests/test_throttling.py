"""The sliding-window counter throttle: the same limits as DRF's, at a constant cost."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework import throttling as drf_throttling

from conftest import make_user
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


def test_the_cache_holds_two_counters_whatever_the_rate(three_a_minute, monkeypatch):
    monkeypatch.setattr(drf_throttling.SimpleRateThrottle, "THROTTLE_RATES", {"user": "100000/minute"})
    request = SimpleNamespace(user=make_user())
    clock = Clock(1000.0)
    for _ in range(500):
        clock.now += 0.05
        assert allowed(clock, request)
    throttle = throttle_at(clock)
    key = throttle.get_cache_key(request, None)
    window = int(clock.now // 60)
    stored = cache.get_many([f"{key}:{window}", f"{key}:{window - 1}", key])
    # Two integers (this window's count and the last one's), no list of times.
    assert len(stored) == 2 and sum(stored.values()) == 500

"""Request throttles that hold across worker processes and app servers, at a constant cost.

The counts live in PostgreSQL (``RequestCount``), which every worker and server shares
already: no new service to run, and a limit means what it says whatever the number of
replicas (a count per process let 60/minute through ~900 times a minute on 3 replicas of 5
workers). Two counters per client, this window's and the previous one's, the previous one
weighed by how much of it the sliding window still covers — the approximation common rate
limiters use (DRF's own keeps every request's time and grows with the rate). Per request: one
statement (``COUNT_SQL``: an INSERT … ON CONFLICT DO UPDATE SET count = count + 1, atomic, so
concurrent requests are all counted, that also reads the previous window); a refused request
is taken back out (one more UPDATE). The settings (``THROTTLE_USER_RATE``, ``THROTTLE_ANON_RATE``) and the
429 with ``Retry-After`` are DRF's. ``purge_request_counts`` deletes the windows no longer
weighed (run it from cron, with ``purge_idempotency_keys``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection
from django.db.models import F
from rest_framework import throttling

from maintenance.api.models import RequestCount

TABLE = RequestCount._meta.db_table
# One round trip, on every API request: the count goes up (or starts) and both windows come back.
# Through the ORM (an UPDATE with F(), an INSERT the first time, then a SELECT of both windows;
# the test suite keeps that version and holds this one equal to it) the shared count cost an
# order 0.75 ms more app CPU than the per-process cache (+28 %); this statement costs 0.08 ms of
# app CPU and 0.13 ms of PostgreSQL's (make bench-inprocess orders, alternated runs: +3 % / +9 %).
COUNT_SQL = f"""
WITH hit AS (
    INSERT INTO {TABLE} (key, "window", count, expires_at) VALUES (%(key)s, %(window)s, 1, %(expires_at)s)
    ON CONFLICT (key, "window") DO UPDATE SET count = {TABLE}.count + 1
    RETURNING count
)
SELECT (SELECT count FROM hit),
       COALESCE((SELECT count FROM {TABLE} WHERE key = %(key)s AND "window" = %(window)s - 1), 0)
"""


def count_request(key: str, window: int, duration: float) -> tuple[int, int]:
    """Add one to the client's count in ``window``: (this window's count, the previous window's)."""
    # Kept until the next window no longer weighs it (purge_request_counts).
    expires_at = datetime.fromtimestamp((window + 2) * duration, tz=UTC)
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL, {"key": key, "window": window, "expires_at": expires_at})
        current, previous = cursor.fetchone()
    return current, previous


class SlidingWindowCounterMixin:
    """``allow_request`` and ``wait`` for a ``SimpleRateThrottle`` subclass."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.elapsed = self.now - window * self.duration
        counted, self.previous = count_request(self.key, window, self.duration)
        self.current = counted - 1  # the requests before this one
        if self.previous * (1 - self.elapsed / self.duration) + self.current >= self.num_requests:
            # Refused requests do not count: take this one back out.
            RequestCount.objects.filter(key=self.key, window=window).update(count=F("count") - 1)
            return self.throttle_failure()
        return True

    def wait(self) -> float:
        """Seconds until the weighted count is below the limit again."""
        duration, limit = self.duration, self.num_requests
        if self.current < limit and self.previous:
            # Within this window, as the previous window's weight fades.
            seconds = duration * (1 - (limit - self.current) / self.previous) - self.elapsed
        else:
            # In the next window, once enough of this one has slid out.
            seconds = (duration - self.elapsed) + duration * max(0.0, 1 - limit / max(self.current, 1))
        return max(seconds, 0.001)


class UserRateThrottle(SlidingWindowCounterMixin, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(SlidingWindowCounterMixin, throttling.AnonRateThrottle):
    pass

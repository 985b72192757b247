"""Request throttles whose cost does not grow with the rate they allow.

DRF's ``SimpleRateThrottle`` keeps the time of every request of the window in
the cache, and reads, filters and writes that whole list on every request: at
the default 6000/minute a busy client's list holds thousands of floats, pickled
twice per request (about 0.13 ms at 2,400 entries, growing with the load, which
the benchmark saw as throughput sinking over a run). These keep two counters,
this window's and the previous one's, and weigh the previous one by how much of
it the sliding window still covers — the approximation common rate limiters
use. The cost per request is two small cache reads and one increment; the
settings (``THROTTLE_USER_RATE``, ``THROTTLE_ANON_RATE``) and the 429 with
``Retry-After`` are unchanged.
"""

from __future__ import annotations

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from rest_framework import throttling


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
        current_key, previous_key = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        # The cache itself rather than the ``cache`` proxy, which looks it up again on every use.
        cache = caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache
        counts = cache.get_many([current_key, previous_key])
        self.current, self.previous = counts.get(current_key, 0), counts.get(previous_key, 0)
        if self.previous * (1 - self.elapsed / self.duration) + self.current >= self.num_requests:
            return self.throttle_failure()
        # Kept for two windows: the next window weighs this one.
        if not cache.add(current_key, 1, 2 * self.duration):
            try:
                cache.incr(current_key)
            except ValueError:  # expired between add and incr
                cache.add(current_key, 1, 2 * self.duration)
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

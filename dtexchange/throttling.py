"""One rate limiter for the whole API (auth, OTP, vouchers, trading).

DRF's SimpleRateThrottle reads a list from the cache, appends and writes it
back, so a parallel burst all reads the same history and all pass — exactly
what a password or voucher guesser does. This counts with the cache's atomic
``incr`` (Redis INCR) in a sliding window approximated from two fixed windows
(the previous window's count weighted by how much of it still overlaps), so
there is neither a race nor a double burst at a window boundary. A refused
request gives its unit back, so hammering while limited does not extend the
wait past one window.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope], read at
request time so a changed setting applies at once.
"""

import contextlib
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from dtexchange.client_ip import client_ip

_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "20/min" -> (20, 60)."""
    count, period = rate.split("/")
    return int(count), _PERIOD_SECONDS[period.strip()[0]]


class RateThrottle(BaseThrottle):
    """Subclasses set ``scope`` and say whom a request counts against (``ident``)."""

    scope: str

    def __init__(self):
        self._wait: float | None = None

    def rate(self) -> tuple[int, int]:
        """(limit, window seconds)."""
        return parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])

    def ident(self, request) -> str | None:
        """The key a request counts against; None means this limit does not apply."""
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        limit, window = self.rate()
        now = time.time()
        slot = int(now // window)
        base = f"throttle:{self.scope}:{type(self).__name__}:{ident}"
        current_key = f"{base}:{slot}"
        current, previous = self._count(current_key, f"{base}:{slot - 1}", timeout=2 * window + 1)
        elapsed = now - slot * window
        overlap = (window - elapsed) / window
        if previous * overlap + current <= limit:
            return True
        with contextlib.suppress(ValueError):  # the key expired meanwhile: nothing to give back
            cache.decr(current_key)
        self._wait = self._seconds_until_allowed(
            limit=limit, window=window, previous=previous, current=current - 1, elapsed=elapsed
        )
        return False

    @staticmethod
    def _count(key: str, previous_key: str, *, timeout: int) -> tuple[int, int]:
        """Atomically add one to the window's counter; return it and the
        previous window's count, in one Redis round trip (dtexchange.cache)."""
        return cache.count_in_window(key, previous_key, timeout=timeout)

    @staticmethod
    def _seconds_until_allowed(
        *, limit: int, window: int, previous: int, current: int, elapsed: float
    ) -> float:
        # Within this window the previous count decays linearly; after it, this
        # window's count becomes the decaying one. Capped at one window.
        if previous and current < limit:
            # previous * (window - elapsed - t) / window + current + 1 <= limit
            t = (window - elapsed) - window * (limit - current - 1) / previous
            if t <= window - elapsed:
                return max(1.0, t)
        t = (window - elapsed) + (window * (1 - (limit - 1) / current) if current else 0)
        return max(1.0, min(float(window), t))

    def wait(self) -> float | None:
        return self._wait


class UserRateThrottle(RateThrottle):
    """Per signed-in user; anonymous requests are left to the IP limit."""

    def ident(self, request) -> str | None:
        user = getattr(request, "user", None)
        return f"user:{user.pk}" if user is not None and user.is_authenticated else None


class IPRateThrottle(RateThrottle):
    """Per client address, as dtexchange.client_ip decides it (the socket's,
    unless NUM_PROXIES says how many proxies of ours put theirs in
    X-Forwarded-For: a client can type anything there)."""

    def ident(self, request) -> str | None:
        return f"ip:{client_ip(request)}"


class CooldownThrottle(BaseThrottle):
    """At most one request per ``interval()`` seconds per ident: an atomic cache
    ``add`` (Redis SET NX) that expires by itself. For "one resend a minute",
    where a window count would be either too loose or too strict."""

    scope: str

    def __init__(self):
        self._wait: float | None = None

    def interval(self) -> int:
        raise NotImplementedError

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        interval = self.interval()
        now = time.time()
        key = f"throttle:{self.scope}:{type(self).__name__}:{ident}"
        if cache.add(key, now + interval, timeout=interval):
            return True
        until = cache.get(key)
        if until is not None and until <= now:
            # Logically over though the cache entry lingers (its TTL runs on the
            # server's clock): start a new interval.
            cache.set(key, now + interval, timeout=interval)
            return True
        self._wait = max(1.0, (until or now + interval) - now)
        return False

    def wait(self) -> float | None:
        return self._wait

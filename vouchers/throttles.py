"""Throttles for voucher validation: per user and per client IP (DESIGN 8).

DRF's SimpleRateThrottle reads, edits and writes a list in the cache, so
parallel requests can slip past it; a guesser would do exactly that. These
count in fixed windows with an atomic cache ``incr`` (Redis INCR) instead.
"""

import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _WindowThrottle(BaseThrottle):
    scope = "voucher_validate"

    def __init__(self):
        # Read at request time (not import time) so a changed setting applies.
        num, period = api_settings.DEFAULT_THROTTLE_RATES[self.scope].split("/")
        self.limit = int(num)
        self.window = _PERIODS[period.strip()[0]]
        self._wait: float | None = None

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        now = time.time()
        window_start = int(now // self.window) * self.window
        key = f"throttle:{self.scope}:{type(self).__name__}:{ident}:{window_start}"
        cache.add(key, 0, timeout=self.window + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: start the window again
            cache.add(key, 1, timeout=self.window + 1)
            count = 1
        if count > self.limit:
            self._wait = max(1.0, window_start + self.window - now)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


class VoucherValidateUserThrottle(_WindowThrottle):
    def ident(self, request) -> str | None:
        user = getattr(request, "user", None)
        return f"user:{user.pk}" if user is not None and user.is_authenticated else None


class VoucherValidateIPThrottle(_WindowThrottle):
    def ident(self, request) -> str | None:
        # With no NUM_PROXIES configured, X-Forwarded-For is whatever the client
        # typed; DRF would trust it, so a guesser could rotate it. Use the socket
        # address then, and DRF's proxy-aware parsing when proxies are declared.
        if api_settings.NUM_PROXIES is None:
            return f"ip:{request.META.get('REMOTE_ADDR', '')}"
        return f"ip:{self.get_ident(request)}"

"""Rate limits for the auth endpoints, per client IP and per account (email).

Counters live in the default cache (Redis in production and tests). Rates come
from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at request time so that a
changed setting applies at once.
"""

import hashlib
import time

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

_LOCK_SECONDS = 2
_LOCK_TRIES = 200  # x 10 ms


class _SettingsRateThrottle(SimpleRateThrottle):
    def timer(self) -> float:
        # Looked up at call time (DRF binds time.time at import), so tests
        # that move the clock move the throttle window too.
        return time.time()

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view) -> bool:
        """DRF's sliding window (read the history, append, write back) under a
        per-key lock: without it a parallel burst of password guesses all read
        the same history and all pass. The lock is a cache ``add`` (Redis SET
        NX) that expires by itself; a request that cannot get it in time is
        refused, since only a burst on one key waits that long."""
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        lock = f"{key}:lock"
        for _ in range(_LOCK_TRIES):
            if self.cache.add(lock, 1, timeout=_LOCK_SECONDS):
                break
            time.sleep(0.01)
        else:
            self.key, self.now = key, self.timer()
            self.history = self.cache.get(key, [])
            return self.throttle_failure()
        try:
            return super().allow_request(request, view)
        finally:
            self.cache.delete(lock)


class AuthIPThrottle(_SettingsRateThrottle):
    """All auth endpoints together, per client address."""

    scope = "auth_ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _email_ident(request) -> str | None:
    data = request.data if hasattr(request.data, "get") else {}
    email = data.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    # Hashed: the cache need not hold readable addresses.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class AuthAccountThrottle(_SettingsRateThrottle):
    """Register and sign-in, per email address (whether or not it has an account)."""

    scope = "auth_account"

    def get_cache_key(self, request, view):
        ident = _email_ident(request)
        if ident is None:
            return None  # no email: the serializer refuses it; the IP limit still applies
        return self.cache_format % {"scope": self.scope, "ident": ident}


class OTPAccountThrottle(AuthAccountThrottle):
    """Verify and resend, per email address."""

    scope = "otp"


class ResendIntervalThrottle(AuthAccountThrottle):
    """One resend per OTP_RESEND_INTERVAL per address, known or not, so the 429
    tells nothing about the address (the device's own cooldown decides whether
    a code is really sent)."""

    scope = "otp_resend"

    def get_rate(self):
        return "1/resend-interval"

    def parse_rate(self, rate):
        return 1, max(1, int(settings.OTP_RESEND_INTERVAL.total_seconds()))

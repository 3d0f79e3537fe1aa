"""Rate limits for the auth endpoints, per client IP and per account (email),
on the project's one atomic limiter (dtexchange.throttling)."""

import hashlib

from django.conf import settings

from dtexchange.throttling import (
    CooldownThrottle,
    IPRateThrottle,
    RateThrottle,
    UserRateThrottle,
)


class AuthIPThrottle(IPRateThrottle):
    """All auth endpoints together, per client address."""

    scope = "auth_ip"


def _email_ident(request) -> str | None:
    data = request.data if hasattr(request.data, "get") else {}
    email = data.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    # Hashed: the cache need not hold readable addresses.
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class AuthAccountThrottle(RateThrottle):
    """Register and sign-in, per email address (whether or not it has an account).
    No email: the serializer refuses it; the IP limit still applies."""

    scope = "auth_account"

    def ident(self, request) -> str | None:
        return _email_ident(request)


class OTPAccountThrottle(AuthAccountThrottle):
    """Verify and resend, per email address."""

    scope = "otp"


class ResendIntervalThrottle(CooldownThrottle):
    """One resend per OTP_RESEND_INTERVAL per address, known or not, so the 429
    tells nothing about the address (the device's own cooldown decides whether
    a code is really sent)."""

    scope = "otp_resend"

    def interval(self) -> int:
        return max(1, int(settings.OTP_RESEND_INTERVAL.total_seconds()))

    def ident(self, request) -> str | None:
        return _email_ident(request)


class PasswordCheckUserThrottle(UserRateThrottle):
    """Signed-in actions that check the password (closing the account): per
    user, at the sign-in rate, so a stolen token cannot guess the password."""

    scope = "auth_account"

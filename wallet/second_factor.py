"""The second factor of a withdrawal or a payout number: a 6-digit code from
the user's authenticator app when they set one up, else emailed.

Emailed codes follow the sign-up code's rules: only a salted HMAC is stored
(keyed by SECRET_KEY), they expire after ``OTP_CODE_TTL`` and work once.
Every try, right or wrong and of either kind, goes through
``accounts.codes.email_code_attempt`` (the per-address daily cap on wrong
codes). Wrong codes also count on the object itself
(``WITHDRAWAL_CODE_MAX_ATTEMPTS``; the caller cancels it at the limit).
There is no setting that skips the code.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.authenticator import authenticator_device
from accounts.codes import email_code_attempt
from accounts.models import OTP_DIGITS
from wallet.models import CodeFields, SecondFactor


def _digest(obj: CodeFields, code: str) -> str:
    label = obj._meta.label_lower
    return salted_hmac(
        "wallet.confirmation", f"{label}:{obj.public_id}:{obj.code_salt}:{code}", algorithm="sha256"
    ).hexdigest()


def code_issue(obj: CodeFields, *, user) -> str | None:
    """Choose the second factor of ``obj`` (not saved here). Returns the
    emailed code in clear (for the email only), or None for the app."""
    if authenticator_device(user) is not None:
        obj.second_factor = SecondFactor.TOTP
        obj.code_hash = obj.code_salt = ""
        obj.code_valid_until = None
        return None
    code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
    obj.second_factor = SecondFactor.EMAIL
    obj.code_salt = secrets.token_hex(16)
    obj.code_hash = _digest(obj, code)
    obj.code_valid_until = timezone.now() + settings.OTP_CODE_TTL
    return code


def code_check(obj: CodeFields, *, user, code: str) -> bool:
    """Whether ``code`` confirms ``obj`` (locked by the caller, in its
    transaction, which commits whatever the answer). A right emailed code is
    spent (``obj`` is changed, the caller saves it)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("code_check must run inside a transaction.")
    code = str(code or "").strip()

    def verify() -> bool:
        if not code.isdigit() or len(code) != OTP_DIGITS:
            return False
        if obj.second_factor == SecondFactor.TOTP:
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=user, confirmed=True)
                .order_by("-pk")
                .first()
            )
            return device is not None and bool(device.verify_token(code))
        if not obj.code_hash or obj.code_valid_until is None:
            return False
        if timezone.now() >= obj.code_valid_until:
            return False
        if not constant_time_compare(_digest(obj, code), obj.code_hash):
            return False
        obj.code_hash = obj.code_salt = ""
        obj.code_valid_until = None
        return True

    def live() -> bool:
        # Only a code that is waiting to be checked counts against the
        # address's daily cap (a stale request cannot use up the owner's tries).
        if obj.second_factor == SecondFactor.TOTP:
            return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        return (
            bool(obj.code_hash)
            and obj.code_valid_until is not None
            and (timezone.now() < obj.code_valid_until)
        )

    return email_code_attempt(email=user.email, live=live, verify=verify)


def attempts_left(obj: CodeFields) -> int:
    return max(0, settings.WITHDRAWAL_CODE_MAX_ATTEMPTS - obj.code_failures)

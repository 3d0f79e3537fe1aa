"""The rule for every code we email: sign-up verification, and any later
confirmation sent by email (e.g. a withdrawal's).

Each code has its own limits (expiry, single use, ``OTP_MAX_ATTEMPTS`` wrong
tries, the growing pause: accounts.models.EmailOTPDevice). A new code starts
its own count, so without more a guesser who asks for a new code every
minute gets thousands of tries a day. The day cap closes that: at most
``EMAIL_CODE_MAX_FAILURES_PER_DAY`` wrong codes per address per day
(East Africa Time), counted across every kind of emailed code; past it every
code for that address is refused until the next day, right or wrong.

Only a try that could have succeeded counts: one made while a code of the
address is live (sent, unused, unexpired, not refused by its own limits).
Anyone can post codes for any address, so counting tries with no code to
guess would let a stranger use up the owner's day (a denial of service)
while bringing the stranger no closer to a code; a guesser still pays for
every try against a real code, and a new code only comes by a real (re)send
at most once per resend interval.

Use::

    with transaction.atomic():          # commits on a wrong code too
        ok = email_code_attempt(
            email=user.email, live=device.code_is_live, verify=lambda: device.verify_token(code)
        )

The counter row of the address is locked (``SELECT … FOR UPDATE``) before
``verify`` runs, so parallel guesses for one address queue behind each other
and cannot pass the cap together. Lock order: this row first, then whatever
``verify`` locks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import EmailCodeFailureDay


def _address_hash(email: str) -> str:
    # Keyed: the table holds no readable or dictionary-reversible address.
    return salted_hmac(
        "accounts.codes.address", email.strip().lower(), algorithm="sha256"
    ).hexdigest()


def email_code_failures_today(*, email: str) -> int:
    """Wrong emailed codes of the address today (support, tests)."""
    row = EmailCodeFailureDay.objects.filter(
        address_hash=_address_hash(email), day=timezone.localdate()
    ).first()
    return row.failures if row else 0


def email_code_attempt(*, email: str, live: Callable[[], bool], verify: Callable[[], bool]) -> bool:
    """Try one emailed code for ``email``: False at once (``verify`` not
    called) when the address has used up today's wrong tries or ``live()``
    says no code is waiting to be checked (nothing counted), else
    ``verify()``; a False from it counts one wrong try against the address.
    Must run inside the caller's transaction, which the caller commits
    whether the code was right or wrong (the count must stay)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("email_code_attempt must run inside a transaction.")
    key, day = _address_hash(email), timezone.localdate()
    EmailCodeFailureDay.objects.bulk_create(
        [EmailCodeFailureDay(address_hash=key, day=day)], ignore_conflicts=True
    )
    row = EmailCodeFailureDay.objects.select_for_update().get(address_hash=key, day=day)
    if row.failures >= settings.EMAIL_CODE_MAX_FAILURES_PER_DAY:
        return False
    if not live():
        return False
    if verify():
        return True
    EmailCodeFailureDay.objects.filter(pk=row.pk).update(failures=F("failures") + 1)
    return False


def email_code_failures_prune(*, keep_days: int = 2) -> int:
    """Delete counters older than ``keep_days`` days (a beat task)."""
    cutoff = timezone.localdate() - timedelta(days=keep_days)
    deleted, _ = EmailCodeFailureDay.objects.filter(day__lt=cutoff).delete()
    return deleted

"""Account security events.

* Sessions ending: a log-out, a password change or a lock is recorded as an
  outbox ``session.ended`` event, so the live sockets of those sessions close.
* "Was this you?" alerts: an email (through the outbox) on a sign-in from a
  new device or browser, a password change and a change of second factor
  (and, when payout numbers exist, a change of one: ``security_alert`` with
  ``what="payout_number_changed"``). Each carries a link to lock the account.
* Locking: ``account_lock`` makes the password unusable, which ends every
  session (Django's session hash includes the password), revokes every
  refresh token (``User.save``), refuses the access tokens still out
  (``accounts.authentication``) and the live sockets, and freezes
  withdrawals (``account_is_locked``) until the user chooses a new password
  through the emailed reset link (whoever reads the mailbox).
"""

from __future__ import annotations

import hashlib

import structlog
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from dtexchange.errors import DomainError
from notifications.routing import session_fingerprint
from notifications.services import outbox_emit

log = structlog.get_logger(__name__)
LOCK_SALT = "accounts.account_lock"
ALERT_TEMPLATE = "security_alert"

ALERTS = {
    "new_sign_in": (
        "New sign-in to your account",
        "Someone signed in to your DT Exchange account from a device or browser "
        "we had not seen before.",
    ),
    "password_changed": (
        "Your password was changed",
        "The password of your DT Exchange account was changed.",
    ),
    "second_factor_changed": (
        "Your second factor was changed",
        "A new authenticator app was set up for your DT Exchange account.",
    ),
    "payout_number_changed": (
        "A payout number was changed",
        "A mobile-money number that your DT Exchange account pays out to was changed.",
    ),
}


class LockLinkInvalid(DomainError):
    code = "lock_link_invalid"
    message = "This link has expired or your password has changed since it was sent."
    status = 400


def sessions_ended(*, user_id: int, session_key: str | None = None) -> None:
    """Record that one session (``session_key``) or every session (None) of a
    user ended: after commit, the WebSocket consumer closes the sockets that
    such a session's cookie authenticated (through the outbox)."""
    payload = (
        {"all": True} if session_key is None else {"session": session_fingerprint(session_key)}
    )
    outbox_emit(kind="session.ended", payload=payload, user_id=user_id)


# --- locking ---------------------------------------------------------------------


def _password_stamp(user) -> str:
    # Changes whenever the password does: a link stops working once the
    # account is locked or its password reset.
    return salted_hmac(LOCK_SALT, user.password or "", algorithm="sha256").hexdigest()[:24]


def account_lock_token(user) -> str:
    return signing.dumps({"u": user.pk, "p": _password_stamp(user)}, salt=LOCK_SALT)


def account_lock_url(user) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("account_lock", args=[account_lock_token(user)])


def account_lock_user(token: str):
    """The user a lock link is for, or LockLinkInvalid (expired after
    ``ACCOUNT_LOCK_LINK_DAYS``, or the password changed since)."""
    from accounts.models import User

    try:
        data = signing.loads(token, salt=LOCK_SALT, max_age=settings.ACCOUNT_LOCK_LINK_DAYS * 86400)
    except signing.BadSignature as exc:
        raise LockLinkInvalid() from exc
    user = User.objects.filter(pk=data.get("u")).first()
    if user is None or data.get("p") != _password_stamp(user):
        raise LockLinkInvalid()
    return user


@transaction.atomic
def account_lock(*, token: str):
    """ "This wasn't me": lock the link's account (see the module docstring).
    Idempotent for a locked account only through a fresh link (the old one
    stops working once the password is unusable)."""
    from accounts.models import User
    from accounts.services import refresh_tokens_revoke

    user = account_lock_user(token)
    user = User.objects.select_for_update().get(pk=user.pk)
    # Sessions die with the password (their hash includes it); refresh
    # tokens and live sockets are ended here.
    user.set_unusable_password()
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)
    sessions_ended(user_id=user.pk)
    log.warning("account.locked", user=user.pk)
    return user


def account_is_locked(user) -> bool:
    """Locked by its owner ("this wasn't me") and not reset since: no sign-in,
    no token, no withdrawal."""
    return user.pk is not None and not user.has_usable_password()


# --- alerts ------------------------------------------------------------------------


def security_alert(*, user, what: str, device: str = "") -> None:
    """Email the user a "was this you?" alert with the lock link (through the
    outbox, after the caller's commit). Only verified addresses get one (an
    unverified one may not be the user's)."""
    if not user.is_email_verified or not user.has_usable_password():
        return
    headline, text = ALERTS[what]
    outbox_emit(
        kind=f"email.{ALERT_TEMPLATE}",
        user_id=user.pk,
        payload={
            "to": user.email,
            "subject": f"{headline} — was this you?",
            "context": {
                "headline": headline,
                "what": text,
                "when": timezone.localtime().strftime("%d %b %Y, %H:%M %Z"),
                "device": device[:200],
                "lock_url": account_lock_url(user),
            },
        },
    )


def device_key_hash(key: str) -> str:
    return hashlib.sha256(f"device:{key}".encode()).hexdigest()


def sign_in_record(*, user, device_key: str, device: str) -> bool:
    """Remember the device a user signed in from; email a "new sign-in" alert
    when it is new and the account had signed in from another device before
    (the first device of an account is not news). Returns True when new."""
    from accounts.models import KnownDevice

    digest = device_key_hash(device_key)
    now = timezone.now()
    if KnownDevice.objects.filter(user=user, key_hash=digest).update(last_seen_at=now):
        return False
    had_others = KnownDevice.objects.filter(user=user).exists()
    try:
        with transaction.atomic():
            KnownDevice.objects.create(
                user=user, key_hash=digest, description=device[:200], last_seen_at=now
            )
    except IntegrityError:  # the same device signing in twice at once
        return False
    if had_others:
        security_alert(user=user, what="new_sign_in", device=device)
    return True

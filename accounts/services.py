"""Accounts: registration, email verification by OTP, sign-in tokens.

Nothing here tells a caller whether an email address has an account: register,
resend and verify answer the same way for a known and an unknown address, and
sign-in fails the same way for an unknown address and a wrong password.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.exceptions import (
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import roles
from accounts.models import EmailOTPDevice, RefreshTokenFamily, RegistrationAttempt, User
from accounts.security import sign_in_record
from dtexchange.errors import DomainError, InvalidInput

log = structlog.get_logger(__name__)


def _email_ref(email: str) -> str:
    """A stable, non-reversible reference to an address for logs."""
    return hashlib.sha256(email.encode()).hexdigest()[:16]


class InvalidCode(DomainError):
    code = "invalid_code"
    message = (
        "That code is not valid. It may be mistyped, expired, already used or "
        "tried too often; request a new code if needed."
    )
    status = status.HTTP_400_BAD_REQUEST


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    message = "The email or password is not correct."
    status = status.HTTP_401_UNAUTHORIZED


def email_normalize(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def _password_check(*, email: str, password: str) -> None:
    try:
        validate_password(password, user=User(email=email))
    except DjangoValidationError as exc:
        raise InvalidInput(
            exc.messages[0], code="invalid_input", details={"password": exc.messages}
        ) from exc


def refresh_tokens_revoke(*, user: User) -> None:
    """Blacklist every refresh token issued to the user and not yet expired
    (access tokens expire within SIMPLE_JWT's ACCESS_TOKEN_LIFETIME). Called
    by User.save() whenever the password changes."""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )


def _code_send_on_commit(*, user: User, code: str) -> None:
    from accounts.tasks import verification_code_send

    user_id = user.pk
    transaction.on_commit(lambda: verification_code_send.delay(user_id=user_id, code=code))


def _device_for_update(*, user: User) -> EmailOTPDevice:
    """The user's email device, created if missing, locked for this transaction."""
    device, _ = EmailOTPDevice.objects.get_or_create(
        user=user, defaults={"name": "email", "confirmed": True}
    )
    return EmailOTPDevice.objects.select_for_update().get(pk=device.pk)


# A few sign-ups of one unverified address are kept (each with its own
# password); older ones are dropped. Verification drops them all.
REGISTRATION_ATTEMPTS_KEPT = 5


@dataclass(frozen=True)
class Registration:
    """What user_register gives its caller: ``token`` names this sign-up
    (the site keeps it in the browser's session; meaningless for a verified
    or unknown address, so it tells nothing); ``user`` is for tests and logs
    only, never shown."""

    token: str
    user: User | None


@dataclass(frozen=True)
class EmailVerified:
    user: User
    # The code was entered with the token of the sign-up whose password now
    # applies: only then may the site sign this browser in.
    registered_here: bool


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _attempt_add(*, user: User, password_hash: str, token: str) -> RegistrationAttempt:
    attempt = RegistrationAttempt.objects.create(
        user=user, token_hash=_token_hash(token), password=password_hash
    )
    stale = list(
        RegistrationAttempt.objects.filter(user=user).values_list("pk", flat=True)[
            REGISTRATION_ATTEMPTS_KEPT:
        ]
    )
    if stale:
        RegistrationAttempt.objects.filter(pk__in=stale).delete()
    return attempt


@transaction.atomic
def user_register(*, email: str, password: str) -> Registration:
    """Register an email address and send it a verification code.

    Same outcome for the caller whether or not the address is known (one
    password hash in every branch: no timing tell):
    * new address: a customer account (unverified, with this password) and a
      code bound to this sign-up;
    * known but unverified: nothing about the account changes. The sign-up is
      kept as a registration attempt with its password, and a new code bound
      to it is sent (unless one was sent within OTP_RESEND_INTERVAL). The
      password takes effect only when the address is verified (email_verify),
      so whoever reads the mailbox decides; registering someone else's
      address neither locks its owner out nor lets the registrant in;
    * known and verified: nothing changes and nothing is sent.
    """
    email = email_normalize(email)
    _password_check(email=email, password=password)
    password_hash = make_password(password)
    token = secrets.token_urlsafe(32)
    user = User.objects.select_for_update().filter(email=email).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create(email=email, password=password_hash)
        except IntegrityError:
            # A parallel registration of the same address won; treat as known.
            user = User.objects.select_for_update().get(email=email)
        else:
            roles.ensure_roles()
            user.groups.add(Group.objects.get(name=roles.CUSTOMER))
            attempt = _attempt_add(user=user, password_hash=password_hash, token=token)
            device = _device_for_update(user=user)
            _code_send_on_commit(user=user, code=device.generate_code(registration=attempt))
            log.info("auth.registered", user_id=user.pk)
            return Registration(token=token, user=user)
    if user.is_email_verified or not user.is_active:
        log.info("auth.register_known_address", user_id=user.pk)
        return Registration(token=token, user=None)
    attempt = _attempt_add(user=user, password_hash=password_hash, token=token)
    log.info("auth.reregistered_unverified", user_id=user.pk)
    device = _device_for_update(user=user)
    if device.generate_is_allowed()[0]:
        _code_send_on_commit(user=user, code=device.generate_code(registration=attempt))
    return Registration(token=token, user=user)


@transaction.atomic
def verification_code_resend(*, email: str) -> bool:
    """Send a new code to an unverified account, at most once per
    OTP_RESEND_INTERVAL (django-otp cooldown). Silent for unknown or verified
    addresses. The new code keeps the sign-up binding of the one it replaces.
    Returns whether a code was sent (never shown to the caller)."""
    user = User.objects.filter(
        email=email_normalize(email), email_verified_at__isnull=True, is_active=True
    ).first()
    if user is None:
        return False
    device = _device_for_update(user=user)
    if not device.generate_is_allowed()[0]:
        return False
    _code_send_on_commit(user=user, code=device.generate_code())
    return True


def _password_apply(*, user: User, attempt: RegistrationAttempt | None) -> None:
    if attempt is None or attempt.password == user.password:
        return
    user.password = attempt.password  # already hashed
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)


def email_verify(
    *, email: str, code: str, registration: str | None = None, signed_in_user_id: int | None = None
) -> EmailVerified:
    """Spend a code and mark the address verified. Raises InvalidCode for any
    failure (unknown address, no code, wrong, expired, used, too many tries
    of this code or of the address today: accounts.codes), so the answer never
    tells them apart. A wrong try is counted even though the error is raised
    (its own transaction commits first).

    Which password the verified account keeps is decided by whoever entered
    the code (they read the mailbox): the sign-up named by ``registration``
    (the token user_register gave that browser), else the current one when
    they are signed in as this user (``signed_in_user_id``: they proved it),
    else the sign-up the code was sent for. Setting it revokes the account's
    refresh tokens. Every registration attempt is then dropped."""
    from accounts.codes import email_code_attempt

    email = email_normalize(email)
    registered_here = False
    with transaction.atomic():
        user = User.objects.filter(
            email=email, email_verified_at__isnull=True, is_active=True
        ).first()
        device = (
            EmailOTPDevice.objects.select_for_update().filter(user=user).first() if user else None
        )
        verified = email_code_attempt(
            email=email, verify=lambda: device is not None and device.verify_token(code)
        )
        if verified:
            own = (
                RegistrationAttempt.objects.filter(
                    user=user, token_hash=_token_hash(registration)
                ).first()
                if registration
                else None
            )
            registered_here = own is not None
            if own is not None:
                _password_apply(user=user, attempt=own)
            elif signed_in_user_id != user.pk:
                _password_apply(user=user, attempt=device.registration)
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
            RegistrationAttempt.objects.filter(user=user).delete()
    if not verified:
        log.info(
            "auth.code_rejected",
            user_id=user.pk if user else None,
            failures=device.throttling_failure_count if device else None,
        )
        raise InvalidCode()
    log.info("auth.email_verified", user_id=user.pk, registered_here=registered_here)
    return EmailVerified(user=user, registered_here=registered_here)


def _family_join(*, token: RefreshToken, family) -> None:
    """Record which family the (already outstanded) refresh token belongs to."""
    row = OutstandingToken.objects.get(jti=token.payload[jwt_settings.JTI_CLAIM])
    RefreshTokenFamily.objects.create(token=row, family=family)


@transaction.atomic
def token_obtain(*, email: str, password: str, device: str = "") -> dict[str, str]:
    """A refresh/access pair for valid credentials; the refresh token starts
    a new family (token_refresh). Unverified users may sign in (to see their
    account and verify); trading refuses them (user_verified_require)."""
    user = authenticate(username=email_normalize(email), password=password)
    if user is None:
        log.info("auth.login_failed", email_ref=_email_ref(email_normalize(email)))
        raise InvalidCredentials()
    log.info("auth.login", user_id=user.pk)
    # An API client is known by its User-Agent: a new one gets "was this you?".
    sign_in_record(user=user, device_key=f"api:{device}", device=device or "an API client")
    refresh = RefreshToken.for_user(user)  # outstanded (recorded) on issue
    _family_join(token=refresh, family=uuid.uuid4())
    if settings.SIMPLE_JWT.get("UPDATE_LAST_LOGIN"):
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class InvalidToken(DomainError):
    code = "invalid_token"
    message = "The token is not valid or has expired. Sign in again."
    status = status.HTTP_401_UNAUTHORIZED


class _Reused(Exception):
    """A blacklisted refresh token was presented (inside the lock)."""

    def __init__(self, row: OutstandingToken):
        self.row = row


def _signed_payload(raw: str) -> dict | None:
    """The claims of a token signed by us and not expired, else None."""
    try:
        return token_backend.decode(raw, verify=True)
    except (TokenBackendError, TokenBackendExpiredToken):
        return None


def _refresh_token_lock(*, refresh: str) -> tuple[RefreshToken, OutstandingToken]:
    """Decode and check a refresh token (signature, HS256 only, expiry, type),
    then lock its outstanding row so that two requests with the same token
    cannot both use it. Call inside a transaction. A token already spent
    (rotated, logged out, revoked) raises _Reused."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        # Spent (blacklisted) tokens fail here too: tell a reuse apart by a
        # valid signature, an unexpired refresh token and its spent record.
        payload = _signed_payload(refresh)
        jti = payload.get(jwt_settings.JTI_CLAIM) if payload else None
        if jti and payload.get(jwt_settings.TOKEN_TYPE_CLAIM) == RefreshToken.token_type:
            row = OutstandingToken.objects.filter(jti=jti).first()
            if row is not None and BlacklistedToken.objects.filter(token=row).exists():
                raise _Reused(row) from exc
        raise InvalidToken() from exc
    jti = token.payload[jwt_settings.JTI_CLAIM]
    row = OutstandingToken.objects.select_for_update().filter(jti=jti).order_by().first()
    if row is None:
        # Every refresh token we issue is recorded on issue (simplejwt's
        # outstand()); one we have no record of was not issued by us.
        raise InvalidToken()
    if BlacklistedToken.objects.filter(token=row).exists():
        raise _Reused(row)
    user = User.objects.filter(pk=token.payload.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise InvalidToken()
    return token, row


def refresh_token_family_revoke(*, token: OutstandingToken) -> int:
    """Blacklist every live token of ``token``'s family (for a token issued
    before families were recorded: every refresh token of its user). Returns
    how many were blacklisted now."""
    link = RefreshTokenFamily.objects.filter(token=token).first()
    if link is not None:
        live = OutstandingToken.objects.filter(
            family_link__family=link.family, blacklistedtoken__isnull=True
        )
    else:
        live = OutstandingToken.objects.filter(user_id=token.user_id, blacklistedtoken__isnull=True)
    rows = [BlacklistedToken(token=t) for t in live.filter(expires_at__gt=timezone.now())]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _reuse_revoke(row: OutstandingToken) -> None:
    with transaction.atomic():
        revoked = refresh_token_family_revoke(token=row)
    log.warning("auth.refresh_token_reused", user_id=row.user_id, revoked=revoked)


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: the given refresh token is blacklisted (single use) and a new
    pair returned, in the same family. A spent token presented again means
    it was copied (or its holder raced itself): the whole family is revoked,
    the thief's chain and the owner's alike, and the owner signs in again
    (OWASP reuse detection). Two requests with one token: the second one is
    such a reuse."""
    try:
        with transaction.atomic():
            token, row = _refresh_token_lock(refresh=refresh)
            token.blacklist()
            data = {"access": str(token.access_token)}
            token.set_jti()
            token.set_exp()
            token.set_iat()
            token.outstand()
            link = RefreshTokenFamily.objects.filter(token=row).first()
            _family_join(token=token, family=link.family if link else uuid.uuid4())
            data["refresh"] = str(token)
            return data
    except _Reused as reused:
        _reuse_revoke(reused.row)
        raise InvalidToken() from None


def token_revoke(*, refresh: str) -> None:
    """Logout: blacklist the refresh token. The short-lived access token runs
    out by itself (ACCESS_TOKEN_LIFETIME). A spent token: its family is
    revoked, as in token_refresh."""
    try:
        with transaction.atomic():
            token, _ = _refresh_token_lock(refresh=refresh)
            token.blacklist()
    except _Reused as reused:
        _reuse_revoke(reused.row)
        raise InvalidToken() from None
    log.info("auth.logout", user_id=token.payload.get(jwt_settings.USER_ID_CLAIM))


# --- the gate of every money path --------------------------------------------------


class EmailNotVerified(DomainError):
    code = "email_not_verified"
    message = "Verify your email address before trading."
    status = status.HTTP_403_FORBIDDEN


def user_verified_require(*, user) -> None:
    """Nothing that moves money (opening or cancelling a trade, a quote for a
    signed-in user, the wallet) runs for an account whose address is not
    verified: the one check, in the services, so every adapter (API, site,
    admin, tasks) gets it. Raises EmailNotVerified (403)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise EmailNotVerified()
    if getattr(user, "email_verified_at", None) is None or not user.is_active:
        raise EmailNotVerified()

"""Accounts: registration, email verification by OTP, sign-in tokens.

Nothing here tells a caller whether an email address has an account: register,
resend and verify answer the same way for a known and an unknown address, and
sign-in fails the same way for an unknown address and a wrong password.
"""

import hashlib

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
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import roles
from accounts.models import EmailOTPDevice, User
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


@transaction.atomic
def user_register(*, email: str, password: str) -> User | None:
    """Register an email address and send it a verification code.

    Same outcome for the caller whether or not the address is known:
    * new address: a customer account (unverified) and a code;
    * known but unverified: the password is replaced by this one, every refresh
      token issued so far is revoked and a new code is sent (unless one was
      sent within OTP_RESEND_INTERVAL). An unverified account cannot trade and
      holds nothing, and this way whoever registered an address first (perhaps
      not its owner) does not keep a way into it once the owner registers;
    * known and verified: nothing changes and nothing is sent.
    Returns the user whose code was sent, else None (for tests and logs only;
    never show it to the caller).
    """
    email = email_normalize(email)
    _password_check(email=email, password=password)
    user = User.objects.select_for_update().filter(email=email).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password)
        except IntegrityError:
            # A parallel registration of the same address won; treat as known.
            user = User.objects.select_for_update().get(email=email)
        else:
            roles.ensure_roles()
            user.groups.add(Group.objects.get(name=roles.CUSTOMER))
            device = _device_for_update(user=user)
            _code_send_on_commit(user=user, code=device.generate_code())
            log.info("auth.registered", user_id=user.pk)
            return user
    if user.is_email_verified or not user.is_active:
        make_password(password)  # same work as the other branches: no timing tell
        log.info("auth.register_known_address", user_id=user.pk)
        return None
    user.set_password(password)
    user.save(update_fields=["password"])  # also revokes its refresh tokens (User.save)
    log.info("auth.reregistered_unverified", user_id=user.pk)
    device = _device_for_update(user=user)
    if device.generate_is_allowed()[0]:
        _code_send_on_commit(user=user, code=device.generate_code())
    return user


@transaction.atomic
def verification_code_resend(*, email: str) -> bool:
    """Send a new code to an unverified account, at most once per
    OTP_RESEND_INTERVAL (django-otp cooldown). Silent for unknown or verified
    addresses. Returns whether a code was sent (never shown to the caller)."""
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


def email_verify(*, email: str, code: str) -> User:
    """Spend a code and mark the address verified. Raises InvalidCode for any
    failure (unknown address, no code, wrong, expired, used, too many tries),
    so the answer never tells them apart. A wrong try is counted even though
    the error is raised (its own transaction commits first)."""
    with transaction.atomic():
        user = User.objects.filter(
            email=email_normalize(email), email_verified_at__isnull=True, is_active=True
        ).first()
        device = (
            EmailOTPDevice.objects.select_for_update().filter(user=user).first() if user else None
        )
        verified = device is not None and device.verify_token(code)
        if verified:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
    if not verified:
        log.info(
            "auth.code_rejected",
            user_id=user.pk if user else None,
            failures=device.throttling_failure_count if device else None,
        )
        raise InvalidCode()
    log.info("auth.email_verified", user_id=user.pk)
    return user


def token_obtain(*, email: str, password: str, device: str = "") -> dict[str, str]:
    """A refresh/access pair for valid credentials. Unverified users may sign
    in (to see their account and verify); trading checks IsVerified."""
    user = authenticate(username=email_normalize(email), password=password)
    if user is None:
        log.info("auth.login_failed", email_ref=_email_ref(email_normalize(email)))
        raise InvalidCredentials()
    log.info("auth.login", user_id=user.pk)
    # An API client is known by its User-Agent: a new one gets "was this you?".
    sign_in_record(user=user, device_key=f"api:{device}", device=device or "an API client")
    refresh = RefreshToken.for_user(user)
    if settings.SIMPLE_JWT.get("UPDATE_LAST_LOGIN"):
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


class InvalidToken(DomainError):
    code = "invalid_token"
    message = "The token is not valid or has expired. Sign in again."
    status = status.HTTP_401_UNAUTHORIZED


def _refresh_token_lock(*, refresh: str) -> RefreshToken:
    """Decode and check a refresh token (signature, HS256 only, expiry, type,
    blacklist), then lock its outstanding row so that two requests with the
    same token cannot both use it. Call inside a transaction."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise InvalidToken() from exc
    jti = token.payload[jwt_settings.JTI_CLAIM]
    row = OutstandingToken.objects.select_for_update().filter(jti=jti).order_by().first()
    if row is None or BlacklistedToken.objects.filter(token=row).exists():
        # Every refresh token we issue is recorded on issue (simplejwt's
        # outstand()); one we have no record of was not issued by us.
        raise InvalidToken()
    user = User.objects.filter(pk=token.payload.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise InvalidToken()
    return token


@transaction.atomic
def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate: the given refresh token is blacklisted (single use) and a new
    pair returned. A stolen-and-used refresh token thus fails for whichever of
    the thief and the owner comes second."""
    token = _refresh_token_lock(refresh=refresh)
    token.blacklist()
    data = {"access": str(token.access_token)}
    token.set_jti()
    token.set_exp()
    token.set_iat()
    token.outstand()
    data["refresh"] = str(token)
    return data


@transaction.atomic
def token_revoke(*, refresh: str) -> None:
    """Logout: blacklist the refresh token. The short-lived access token runs
    out by itself (ACCESS_TOKEN_LIFETIME)."""
    token = _refresh_token_lock(refresh=refresh)
    token.blacklist()
    log.info("auth.logout", user_id=token.payload.get(jwt_settings.USER_ID_CLAIM))

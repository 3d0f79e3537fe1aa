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
from accounts.models import (
    EmailOTPDevice,
    KnownDevice,
    RefreshTokenFamily,
    RegistrationAttempt,
    User,
)
from accounts.security import sign_in_record
from audit.services import audit_record
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
    # No sign-up's password applied (none proven): the owner must reset it.
    password_reset_needed: bool = False


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


def _password_unproven(*, user: User) -> bool:
    """Whether the code was entered by someone who cannot show which sign-up
    is theirs while a sign-up chose the account's password. Even a sole
    sign-up may be an attacker's, who signed up an address whose owner then
    types the code they were sent: only an account no sign-up touched keeps
    its password without proof."""
    return RegistrationAttempt.objects.filter(user=user).exists()


def _password_withhold(*, user: User) -> None:
    """Nobody's password applies: the account can only be entered after the
    mailbox owner sets one by password reset. Every session and refresh token
    of the account ends (whoever chose the old password is out too)."""
    from accounts.security import sessions_ended

    user.set_unusable_password()
    user.save(update_fields=["password"])
    refresh_tokens_revoke(user=user)
    sessions_ended(user_id=user.pk)


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
    else the current one only when no sign-up chose it (an account made by
    staff or a command). Otherwise no sign-up's password applies:
    the password becomes unusable and the mailbox owner sets one by password
    reset (``EmailVerified.password_reset_needed``). A change of password
    revokes the account's refresh tokens. Every registration attempt is then
    dropped."""
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
            email=email,
            live=lambda: device is not None and device.code_is_live(),
            verify=lambda: device.verify_token(code),
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
            elif signed_in_user_id != user.pk and _password_unproven(user=user):
                # Whoever typed the code reads the mailbox but did not show
                # which sign-up is theirs: applying the code's sign-up would
                # hand the account to whoever made it (an attacker who
                # signed the address up, or pushed the owner's sign-up out).
                _password_withhold(user=user)
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
    reset_needed = not user.has_usable_password()
    log.info(
        "auth.email_verified",
        user_id=user.pk,
        registered_here=registered_here,
        password_reset_needed=reset_needed,
    )
    return EmailVerified(
        user=user, registered_here=registered_here, password_reset_needed=reset_needed
    )


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


# --- the account settings page ---------------------------------------------------

FULL_NAME_MAX = User._meta.get_field("full_name").max_length


def user_name_set(*, user: User, full_name: str) -> User:
    """Set the name the user goes by (blank clears it)."""
    name = " ".join((full_name or "").split())
    if len(name) > FULL_NAME_MAX:
        raise InvalidInput(
            f"Use at most {FULL_NAME_MAX} characters.",
            code="invalid_input",
            details={"full_name": [f"Use at most {FULL_NAME_MAX} characters."]},
        )
    User.objects.filter(pk=user.pk).update(full_name=name)
    user.full_name = name
    log.info("auth.name_changed", user_id=user.pk)
    return user


@transaction.atomic
def user_password_change(*, user: User, current_password: str, new_password: str) -> User:
    """Change a signed-in user's password: the current one must be right
    (WrongPassword) and the new one pass the password validators
    (InvalidInput naming ``new_password``). Saving a new password is what
    User.save() acts on: it stamps ``password_changed_at`` (withdrawals wait
    a while after it), revokes every refresh token, ends every session and
    emails the "was this you?" alert. The caller keeps its own session
    (update_session_auth_hash). Locks the user row."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(current_password):
        raise WrongPassword(details={"current_password": [WrongPassword.message]})
    try:
        validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(
            exc.messages[0], code="invalid_input", details={"new_password": exc.messages}
        ) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])
    log.info("auth.password_changed", user_id=user.pk)
    return user


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


# --- access changes and staff sign-ins in the audit trail ---------------------


def user_access_snapshot(*, user: User) -> dict:
    """What decides what a person may do: active, staff, superuser, roles."""
    return {
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "roles": sorted(user.groups.values_list("name", flat=True)),
    }


def user_access_change_record(
    *, actor: User, user: User, before: dict | None, ip: str = ""
) -> None:
    """Audit a change of ``user``'s access made by ``actor`` (staff in the
    admin): ``before`` is ``user_access_snapshot`` taken before the change,
    None for a user just created. Records nothing when nothing changed."""
    after = user_access_snapshot(user=user)
    if before == after:
        return
    audit_record(
        action="user.create" if before is None else "user.access_change",
        actor=actor,
        obj=user,
        subject=user,
        before=before,
        after=after,
        ip=ip,
    )


def user_email_changed_by_staff(*, actor: User, user: User, old_email: str, ip: str = "") -> None:
    """Staff changed ``user``'s address (already saved, in the caller's
    transaction). Staff cannot vouch for a mailbox: the new address is
    unverified (the account cannot trade) until its owner enters the code
    sent to it now; earlier sign-ups of the old address are dropped. The
    change is audited with references to both addresses (the trail is
    append-only, so it holds no readable address)."""
    old_email = email_normalize(old_email)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.email == old_email:
        return
    was_verified = user.email_verified_at is not None
    user.email_verified_at = None
    user.save(update_fields=["email_verified_at"])
    RegistrationAttempt.objects.filter(user=user).delete()
    audit_record(
        action="user.email_change",
        actor=actor,
        obj=user,
        subject=user,
        before={"email_ref": _email_ref(old_email), "email_verified": was_verified},
        after={"email_ref": _email_ref(user.email), "email_verified": False},
        ip=ip,
    )
    if user.is_active:
        device = _device_for_update(user=user)
        _code_send_on_commit(user=user, code=device.generate_code())
    log.info("auth.email_changed_by_staff", user_id=user.pk, actor_id=actor.pk)


def user_password_set_by_staff_record(*, actor: User, user: User, ip: str = "") -> None:
    """Audit a password set for ``user`` by ``actor`` in the admin."""
    audit_record(action="user.password_set", actor=actor, obj=user, subject=user, ip=ip)


def staff_sign_in_record(*, user: User, ip: str) -> None:
    """Audit a successful sign-in to the admin."""
    audit_record(action="admin.sign_in", actor=user, obj=user, subject=user, ip=ip)


def staff_sign_in_failure_record(*, email: str, ip: str, reason: str = "password") -> None:
    """Audit a failed sign-in to the admin (``reason``: ``password``, or
    ``bad_code`` / ``no_device`` for the second factor). The address typed is
    kept as a reference (as in the logs), with the account it names, if any."""
    address = email_normalize(email or "")
    user = User.objects.filter(email=address).first() if address else None
    audit_record(
        action="admin.sign_in_failed",
        actor=None,
        actor_label="anonymous",
        obj=user,
        subject=user,
        data={"email_ref": _email_ref(address), "reason": reason},
        ip=ip,
    )


# --- data export and erasure ------------------------------------------------------

ERASED_EMAIL_DOMAIN = "erased.invalid"


class WrongPassword(DomainError):
    code = "invalid_password"
    message = "The password is not correct."
    status = status.HTTP_400_BAD_REQUEST


class AlreadyErased(DomainError):
    code = "already_erased"
    message = "This account has already been closed and its personal data erased."
    status = status.HTTP_409_CONFLICT


class ErasureBlocked(DomainError):
    code = "erasure_blocked"
    message = "The account cannot be closed yet."
    status = status.HTTP_409_CONFLICT


def user_is_erased(*, user: User) -> bool:
    return user.email.endswith(f"@{ERASED_EMAIL_DOMAIN}")


def user_data_export(*, user: User) -> dict:
    """Everything held about ``user``, as JSON-safe data (each app's section,
    sign-ins, audit events about them, and how long records are kept)."""
    from django.core.serializers.json import DjangoJSONEncoder

    from accounts import personal_data
    from audit.selectors import audit_events_about_user

    sign_ins = [
        {"at": t.created_at, "expires_at": t.expires_at, "via": "api"}
        for t in OutstandingToken.objects.filter(user=user).order_by("created_at")
    ]
    events = [
        {
            "seq": e.seq,
            "at": e.created_at,
            "action": e.action,
            "by_you": e.actor_id == user.pk,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "before": e.before,
            "after": e.after,
            "data": e.data,
            # Someone else's address (staff, or whoever failed to sign in as
            # the user) is theirs, not the user's.
            "ip": e.ip if e.actor_id == user.pk else "",
        }
        for e in audit_events_about_user(user=user)
    ]
    data = {
        "exported_at": timezone.now(),
        "profile": {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "email_verified_at": user.email_verified_at,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "is_active": user.is_active,
            "roles": sorted(user.groups.values_list("name", flat=True)),
        },
        "sign_ins": sign_ins,
        "audit_events": events,
        "retention": {
            "financial_records_years": settings.FINANCIAL_RECORDS_RETENTION_YEARS,
            "statement": (
                "If you close your account, your personal data (email, name, phone numbers, "
                "sign-in sessions, tokens and devices) is removed. Your trades, payments and "
                "ledger entries are financial records: the law requires us to keep them for "
                f"{settings.FINANCIAL_RECORDS_RETENTION_YEARS} years, under an anonymous "
                "account number, and we delete them after that."
            ),
        },
    }
    for section in personal_data.sections():
        data[section.name] = section.export(user)
    import json

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _sessions_delete(*, user: User) -> int:
    from django.contrib.sessions.models import Session

    doomed = [
        s.pk
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


@transaction.atomic
def user_erase(
    *,
    user: User,
    password: str | None,
    give_up_small_balances: bool = False,
    actor: User | None = None,
) -> User:
    """Close ``user``'s account and erase their personal data, once.

    ``password`` is the user's own (checked; None when staff erase from the
    admin, ``actor`` then). Refused with 409 while a balance is not zero or
    anything is in flight; a balance below the smallest withdrawal can be
    given up (``give_up_small_balances``: it goes to the house, recorded).
    The user row stays with its id (a tombstone address, no name, an unusable
    password, inactive), so the ledger and trades keep their owner; phone
    numbers, sessions, tokens, devices (also the browsers and API clients
    signed in from) and pending sign-ups go. Locks the user row: two
    erasures at once give one erasure and one 409.
    """
    from django_otp import devices_for_user

    from accounts import personal_data

    user = User.objects.select_for_update().get(pk=user.pk)
    if user_is_erased(user=user):
        raise AlreadyErased()
    if password is not None and not user.check_password(password):
        raise WrongPassword()
    blockers = [
        blocker
        for section in personal_data.sections()
        if section.blockers
        for blocker in section.blockers(user, give_up_small_balances)
    ]
    if blockers:
        raise ErasureBlocked(
            "The account cannot be closed yet: " + "; ".join(b["message"] for b in blockers),
            details={"blockers": blockers},
        )
    summary = {}
    for section in personal_data.sections():
        if section.erase:
            done = section.erase(user, give_up_small_balances)
            if done:
                summary[section.name] = done
    devices = 0
    for device in devices_for_user(user, confirmed=None):
        device.delete()
        devices += 1
    # The browsers and API clients they signed in from (user agents) and the
    # sign-ups of an unverified address (passwords chosen) are theirs too.
    known_devices, _ = KnownDevice.objects.filter(user=user).delete()
    sign_ups, _ = RegistrationAttempt.objects.filter(user=user).delete()
    summary["accounts"] = {
        "sessions": _sessions_delete(user=user),
        "devices": devices,
        "known_devices": known_devices,
        "sign_ups": sign_ups,
        "tokens": OutstandingToken.objects.filter(user=user).count(),
    }
    OutstandingToken.objects.filter(user=user).delete()  # their blacklist rows go with them
    user.email = f"erased-{user.pk}@{ERASED_EMAIL_DOMAIN}"
    user.full_name = ""
    user.set_unusable_password()
    user.is_active = user.is_staff = user.is_superuser = False
    user.email_verified_at = None
    user.last_login = None
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    audit_record(
        action="user.erase",
        actor=actor or user,
        obj=user,
        subject=user,
        data={"by": "staff" if actor else "self", **summary},
    )
    log.info("auth.user_erased", user_id=user.pk, by="staff" if actor else "self")
    return user

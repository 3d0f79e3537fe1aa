import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.models import CooldownMixin, Device, ThrottlingMixin, VerifyNotAllowed
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("email_verified_at", timezone.now())
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account, identified by their email address."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Security changes that hold back withdrawals for a while (wallet):
    password_changed_at = models.DateTimeField(null=True, blank=True)
    second_factor_changed_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        # Sign-ups per day (the staff analytics page).
        indexes = [models.Index(fields=["date_joined"], name="user_joined_idx")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        # One spelling per address, whatever path creates the row (admin,
        # shell, API): sign-in and registration look addresses up lowercased.
        self.email = (self.email or "").strip().lower()
        # set_password() on an existing user (reset, change, admin, re-sign-up)
        # leaves _password set until this save; hash upgrades at sign-in do not.
        password_changed = self.pk is not None and self._password is not None
        if password_changed:
            self.password_changed_at = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "password_changed_at"}
        super().save(*args, **kwargs)
        if password_changed:
            # Sessions die by themselves (their hash includes the password);
            # JWT refresh tokens do not, so a changed password revokes them.
            from accounts.security import sessions_ended
            from accounts.services import refresh_tokens_revoke

            refresh_tokens_revoke(user=self)
            # Every session of the user is now invalid; its live sockets close.
            sessions_ended(user_id=self.pk)
            from accounts.security import security_alert

            security_alert(user=self, what="password_changed")

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None


OTP_DIGITS = 6


class RegistrationAttempt(models.Model):
    """One sign-up of an address that is not verified yet: the password it
    chose (hashed) and a hash of the random token handed to whoever signed up
    (the site keeps it in that browser's session).

    The password takes effect only when the address is verified with an
    emailed code: the code proves who reads the mailbox, so a second sign-up
    of someone else's unverified address never changes its password by
    itself (accounts.services.email_verify decides which attempt wins)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registration_attempts"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"registration attempt {self.pk} of user {self.user_id}"


class EmailCodeFailureDay(models.Model):
    """Wrong emailed codes per address per day (East Africa Time), whatever
    code they were meant for: the cap of accounts.codes.email_code_attempt.
    The address is kept only as a keyed hash."""

    address_hash = models.CharField(max_length=64)
    day = models.DateField()
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["address_hash", "day"], name="accounts_one_failure_row_per_address_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.failures} wrong codes on {self.day}"


class RefreshTokenFamily(models.Model):
    """The sign-in a refresh token descends from: rotation hands the family
    on, so presenting a rotated (spent) token again revokes every token of
    the family (OWASP refresh token reuse detection)."""

    token = models.OneToOneField(
        OutstandingToken, on_delete=models.CASCADE, related_name="family_link"
    )
    family = models.UUIDField(db_index=True)

    def __str__(self) -> str:
        return f"refresh token {self.token_id} of family {self.family}"


class EmailOTPDevice(ThrottlingMixin, CooldownMixin, Device):
    """The user's email address as a django-otp device: one 6-digit code at a time.

    Only an HMAC of the code is stored (keyed by SECRET_KEY and salted with the
    device and the code's own random salt), so a database leak does not reveal a
    live code and six digits cannot be brute-forced offline without the key.
    A code expires after ``OTP_CODE_TTL``, is refused after ``OTP_MAX_ATTEMPTS``
    wrong tries, is used at most once, and ThrottlingMixin adds an exponential
    pause between wrong tries. CooldownMixin spaces out new codes
    (``OTP_RESEND_INTERVAL``). Callers lock the row (``select_for_update``)
    before generating or verifying, so two requests cannot both use one code.
    """

    code_hash = models.CharField(max_length=128, blank=True, default="")
    code_salt = models.CharField(max_length=32, blank=True, default="")
    valid_until = models.DateTimeField(null=True, blank=True)
    # The sign-up the current code was sent for: its password takes effect
    # when this code is entered outside the browser that signed up.
    registration = models.ForeignKey(
        RegistrationAttempt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], name="accounts_one_email_otp_device_per_user")
        ]

    # -- django-otp hooks ----------------------------------------------------
    def get_throttle_factor(self) -> int:
        return settings.OTP_THROTTLE_FACTOR

    def get_cooldown_duration(self) -> int:
        return int(settings.OTP_RESEND_INTERVAL.total_seconds())

    def verify_is_allowed(self):
        if self.throttling_failure_count >= settings.OTP_MAX_ATTEMPTS:
            return False, {
                "reason": VerifyNotAllowed.N_FAILED_ATTEMPTS,
                "failure_count": self.throttling_failure_count,
            }
        return super().verify_is_allowed()

    def _digest(self, code: str) -> str:
        return salted_hmac(
            "accounts.EmailOTPDevice", f"{self.pk}:{self.code_salt}:{code}", algorithm="sha256"
        ).hexdigest()

    def generate_code(self, *, registration: RegistrationAttempt | None = None) -> str:
        """Set a fresh code (replacing any earlier one) and return it in clear,
        for the email only. Resets the attempt counter and starts the resend
        cooldown. ``registration``: bind the code to that sign-up (else the
        binding of the earlier code is kept, as for a resend). Saves the device."""
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        if registration is not None:
            self.registration = registration
        self.code_salt = secrets.token_hex(16)
        self.code_hash = self._digest(code)
        self.valid_until = timezone.now() + settings.OTP_CODE_TTL
        self.throttle_reset(commit=False)
        self.cooldown_set(commit=False)
        self.save()
        return code

    def code_is_live(self) -> bool:
        """Whether a code is waiting and a try would be checked against it
        now: one was sent, is unused and unexpired, and neither its wrong-try
        limit nor its pause refuses tries."""
        return (
            bool(self.code_hash)
            and self.valid_until is not None
            and timezone.now() < self.valid_until
            and self.verify_is_allowed()[0]
        )

    def verify_token(self, token) -> bool:
        """True once for the right, unexpired code; the code is then spent."""
        allowed, _ = self.verify_is_allowed()
        if not allowed or not self.code_hash or self.valid_until is None:
            return False
        if timezone.now() >= self.valid_until:
            return False
        token = str(token).strip()
        if constant_time_compare(self._digest(token), self.code_hash):
            self.code_hash = ""
            self.code_salt = ""
            self.valid_until = None
            self.throttle_reset(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False


class KnownDevice(models.Model):
    """A device or browser a user has signed in from (accounts.security):
    a sign-in from one not listed gets a "was this you?" email. Identified by
    a hash of a long-lived random browser cookie, or of an API client's
    User-Agent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key_hash = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key_hash"], name="accounts_known_device_once")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.description}"

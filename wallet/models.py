"""The fiat wallet's records: withdrawals (to mobile money, or by bank
transfer that staff pay by hand), the payout numbers money may go to,
top-ups (``Deposit``), tiers and the usage that limits are counted on.

Money itself lives in the ledger (user wallet accounts); these rows say why
it moved and what a user may still do. Personal data (phone numbers, bank
account details) is kept only sealed (encrypted by the registered sealer, see
wallet.payouts) next to a masked form for screens and, for phone numbers, a
keyed hash for lookups.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.fields import MoneyField
from ledger.money import CURRENCY_CHOICES, DECIMAL_PLACES, MAX_DIGITS


def _money(**kwargs) -> MoneyField:
    return MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class SecondFactor(models.TextChoices):
    TOTP = "totp", "Authenticator app"
    EMAIL = "email", "Emailed code"


class CodeFields(models.Model):
    """A 6-digit confirmation code: from the user's authenticator (nothing
    stored) or emailed (only its salted HMAC is stored, it expires and is
    used once). ``code_failures`` counts wrong codes of either kind."""

    second_factor = models.CharField(max_length=8, choices=SecondFactor.choices)
    code_hash = models.CharField(max_length=128, blank=True)
    code_salt = models.CharField(max_length=32, blank=True)
    code_valid_until = models.DateTimeField(null=True, blank=True)
    code_failures = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True


class PayoutNumber(CodeFields):
    """A mobile-money number the user may be paid at, once confirmed with the
    second factor. A deleted number stays (history) but counts as unconfirmed."""

    class Status(models.TextChoices):
        AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        DELETED = "deleted", "Deleted"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_numbers"
    )
    msisdn_hash = models.CharField(max_length=64, db_index=True)
    msisdn_sealed = models.TextField()
    phone_masked = models.CharField(max_length=32)
    provider = models.CharField(max_length=16)
    # The registered holder's name from Relworx's validate; "" when it did not say.
    holder_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.AWAITING_CONFIRMATION
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "msisdn_hash"],
                condition=~Q(status="deleted"),
                name="wallet_one_live_payout_number",
            )
        ]

    def __str__(self) -> str:
        return f"{self.phone_masked} ({self.status})"


class Withdrawal(CodeFields):
    """Money out of the user's fiat wallet. ``amount`` leaves the wallet at
    creation (into the withdrawal-hold account); ``net_amount`` is what the
    phone or bank receives, ``fee_amount`` the remainder.

    ``awaiting_confirmation → processing → completed | failed`` (failed:
    refunded), or ``cancelled`` / ``expired`` before processing. Every move
    is compare-and-set under the row lock (wallet.services)."""

    class Method(models.TextChoices):
        MOBILE_MONEY = "mobile_money", "Mobile money"
        BANK = "bank", "Bank transfer"

    class Status(models.TextChoices):
        AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed — refunded to your wallet"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    amount = _money()
    fee_amount = _money()
    net_amount = _money()
    method = models.CharField(max_length=16, choices=Method.choices)
    status = models.CharField(
        max_length=24,
        choices=Status.choices,
        default=Status.AWAITING_CONFIRMATION,
        db_index=True,
    )
    # What screens show (masked); the details in clear are only sealed.
    destination = models.JSONField(default=dict)
    destination_sealed = models.TextField()
    payout_number = models.ForeignKey(
        PayoutNumber, on_delete=models.PROTECT, null=True, blank=True, related_name="withdrawals"
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    confirm_by = models.DateTimeField()
    # The payout method's reference of the payment that carries a mobile-money
    # withdrawal (payments' MobileMoneyPayment.reference).
    payout_reference = models.CharField(max_length=64, blank=True, db_index=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    # Bank withdrawals, paid by staff by hand: the bank's reference of the
    # transfer, who proposed it (four eyes) and who recorded it paid.
    bank_reference = models.CharField(max_length=64, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    proposed_reference = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="wallet_withdrawal_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(
                condition=Q(net_amount__gt=0, fee_amount__gte=0),
                name="withdrawal_net_positive",
            ),
            models.CheckConstraint(
                condition=Q(amount=models.F("net_amount") + models.F("fee_amount")),
                name="withdrawal_amount_is_net_plus_fee",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(proposed_by__isnull=True)
                | ~Q(decided_by=models.F("proposed_by")),
                name="withdrawal_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("user")),
                name="withdrawal_not_own_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.public_id} ({self.status})"


class DepositStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


# A top-up in these states still waits for its money.
OPEN_DEPOSIT_STATUSES = (DepositStatus.PENDING, DepositStatus.PROCESSING)


class Deposit(models.Model):
    """A top-up of the user's fiat wallet by an outside payment (mobile money
    or bank deposit; each method registered by the app that runs it).

    ``amount`` is what the user pays; on completion the wallet receives
    ``net_amount = amount_received - fee_amount`` in one ledger posting
    (``ledger_transaction``). Status moves only by compare-and-set under the
    row lock (wallet.services.deposits)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet_deposits"
    )
    method = models.CharField(max_length=32)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    amount = _money()
    fee_rate = _money()
    # Expected at the start; the figures of the credit once completed.
    fee_amount = _money()
    net_amount = _money()
    amount_received = _money(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=DepositStatus.choices, default=DepositStatus.PENDING, db_index=True
    )
    # What screens show of the payment details (a masked number, never the number).
    payment_details = models.JSONField(default=dict, blank=True)
    instructions = models.JSONField(default=dict, blank=True)
    reference_code = models.CharField(max_length=32, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    # For staff: e.g. money that arrived past the user's limit (credited anyway).
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.TextField(blank=True)
    ledger_transaction = models.ForeignKey(
        "ledger.LedgerTransaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="wallet_deposit_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(fee_amount__gte=0) & Q(net_amount__gte=0),
                name="wallet_deposit_fee_net_non_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(ledger_transaction__isnull=False),
                name="wallet_deposit_completed_is_posted",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="wallet_deposit_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"top-up {self.public_id} {self.amount} {self.currency} ({self.status})"


class Tier(models.IntegerChoices):
    UNVERIFIED = 0, "0 - email not verified"
    VERIFIED = 1, "1 - email verified"
    IDENTITY = 2, "2 - identity checked"


class WalletProfile(models.Model):
    """One row per user: the tier staff granted (tier 0 is derived: an
    unverified email) and the row every limit check locks (FOR UPDATE), so a
    user's parallel requests pass their limits one after another."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet_profile"
    )
    granted_tier = models.PositiveSmallIntegerField(
        choices=[(Tier.VERIFIED, Tier.VERIFIED.label), (Tier.IDENTITY, Tier.IDENTITY.label)],
        default=Tier.VERIFIED,
    )
    tier_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tier_set_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(granted_tier__in=[1, 2]), name="wallet_profile_tier_granted"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} tier {self.granted_tier}"


class TierRequest(models.Model):
    """A user asks for tier 2 (identity checked); staff decide in the admin."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tier_requests"
    )
    requested_tier = models.PositiveSmallIntegerField(default=Tier.IDENTITY)
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]  # the staff queue: oldest first
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status="pending"),
                name="wallet_tier_request_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} asks tier {self.requested_tier} ({self.status})"


class LimitKind(models.TextChoices):
    BUY = "buy", "Buys"
    WITHDRAWAL = "withdrawal", "Withdrawals"
    TOP_UP = "top_up", "Top-ups"


class LimitUsage(models.Model):
    """One use of a limit: a buy, a withdrawal or a top-up, in its currency and
    in UGX-equivalent (at the rate of that moment, so a later FX move does
    not change what was used). ``reference`` names what used it, once; a use
    that did not happen after all (failed, cancelled, expired) is released,
    not deleted."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LimitKind.choices)
    reference = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    amount = _money()
    amount_ugx = _money()
    at = models.DateTimeField(db_index=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(
                fields=["user", "kind", "at"],
                name="wallet_usage_live_idx",
                condition=Q(released_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.reference})"


class LimitPeriod(models.TextChoices):
    DAY = "day", "Day"
    HOUR = "hour", "Hour"
    MONTH = "month", "Month"


class LimitTotal(models.Model):
    """What a user's live uses of one kind add up to in one period (an East
    Africa Time day, hour or month starting at ``starts_at``): the running
    total a limit check reads instead of summing ``LimitUsage``. Written only
    by ``wallet.sql``, in the statement that records or releases the use."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LimitKind.choices)
    period = models.CharField(max_length=8, choices=LimitPeriod.choices)
    starts_at = models.DateTimeField()
    amount_ugx = _money()
    uses = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "period", "starts_at"], name="wallet_limit_total_unique"
            ),
            # No CHECK (amount_ugx >= 0): PostgreSQL checks the row an INSERT
            # proposes before ON CONFLICT turns it into an update, and the
            # totals take uses out by inserting negative deltas.
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period} {self.starts_at:%Y-%m-%d %H:%M}: {self.amount_ugx}"

"""The fiat wallet's own records: top-ups (``Deposit``), tiers and the
usage that limits are counted on.

Money itself lives in the ledger (user wallet accounts); these rows say
why it moved and what a user may still do."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from ledger.fields import MoneyField
from ledger.money import CURRENCY_CHOICES, DECIMAL_PLACES, MAX_DIGITS


def _money(**kwargs) -> MoneyField:
    return MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


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

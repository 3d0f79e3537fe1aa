"""Trades and their state history."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ledger.fields import MoneyField
from ledger.money import DECIMAL_PLACES, MAX_DIGITS


def _money(**kwargs) -> MoneyField:
    return MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


# No 0/O/1/I: a reference people read out on the phone to support.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_trade_reference() -> str:
    return "DTX-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(10))


class TradeType(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class TradeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


ACTIVE_STATUSES = (TradeStatus.PENDING, TradeStatus.PROCESSING)


class Trade(models.Model):
    # The integer pk is internal (services take ``trade_id``); the API and
    # events show ``public_id`` so ids can't be enumerated.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trades"
    )
    trade_type = models.CharField(max_length=4, choices=TradeType.choices)
    crypto_currency = models.CharField(max_length=8)
    fiat_currency = models.CharField(max_length=8)
    # buy: fiat paid incl. fee; sell: gross value. The user's net is
    # fiat_amount - fee_amount (buy: what the reserve got; sell: paid out).
    crypto_amount = _money()
    fiat_amount = _money()
    fee_amount = _money()
    fee_rate = _money()
    exchange_rate = _money()
    payment_method = models.CharField(max_length=32)
    payment_details = models.JSONField(default=dict, blank=True)  # never secrets
    instructions = models.JSONField(default=dict, blank=True)  # what the payer must do
    status = models.CharField(
        max_length=16, choices=TradeStatus.choices, default=TradeStatus.PENDING
    )
    status_reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=32, unique=True, default=new_trade_reference)
    quote = models.ForeignKey(
        "trading.Quote", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades"
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    # sha256 of the request's parameters, and the first response, replayed
    # for a repeated Idempotency-Key.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    # The ledger postings, linked by their (unique) idempotency key: the key
    # is known before the posting exists, so the trade row is written first
    # and the posting last, keeping the house accounts' row locks (every
    # trade touches the reserves) short. PostgreSQL checks these foreign keys
    # at commit (Django creates them DEFERRABLE INITIALLY DEFERRED).
    ledger_transaction = models.ForeignKey(
        "ledger.LedgerTransaction",
        to_field="idempotency_key",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    refund_transaction = models.ForeignKey(
        "ledger.LedgerTransaction",
        to_field="idempotency_key",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="trade_user_created_idx"),
            models.Index(
                fields=["status", "created_at"],
                name="trade_active_idx",
                condition=models.Q(status__in=["pending", "processing"]),
            ),
            # The staff analytics page: trades made, and trades completed, per day.
            models.Index(fields=["created_at"], name="trade_created_idx"),
            models.Index(
                fields=["completed_at"],
                name="trade_completed_idx",
                condition=models.Q(status="completed"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="trade_user_idempotency_key_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(crypto_amount__gt=0, fiat_amount__gt=0, fee_amount__gte=0),
                name="trade_amounts_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(fee_amount__lte=models.F("fiat_amount")),
                name="trade_fee_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.trade_type} {self.crypto_currency} {self.status}"

    @property
    def net_fiat(self):
        return self.fiat_amount - self.fee_amount


class TradeStatusChange(models.Model):
    """Append-only history: who or what moved a trade, when, and why."""

    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, blank=True)  # "" at creation
    to_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=128)  # "user:12", "staff:3", "relworx-webhook", ...
    reason = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.trade_id}: {self.from_status or '-'} -> {self.to_status}"

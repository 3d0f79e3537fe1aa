"""Prepaid vouchers (UGX or USD), issued in batches and redeemed once.

A voucher's code is never stored: only its keyed hash (``code_hash``) and a
four-symbol ``suffix`` so staff and customers can tell vouchers apart.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.fields import MoneyField
from ledger.money import DECIMAL_PLACES, MAX_DIGITS, fmt

VOUCHER_CURRENCIES = ("UGX", "USD")


class VoucherStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REDEEMED = "redeemed", "Redeemed"
    EXPIRED = "expired", "Expired"
    VOID = "void", "Void"


class VoucherBatch(models.Model):
    """One issue of ``count`` vouchers of the same face value, currency and expiry."""

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Who/what issued it, also for batches made from the command line (no user).
    actor = models.CharField(max_length=150)
    count = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, choices=[(c, c) for c in VOUCHER_CURRENCIES])
    amount = MoneyField(
        max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, help_text="Face value of each."
    )
    expires_at = models.DateTimeField()
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "voucher batches"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="voucher_batch_amount_pos"),
            models.CheckConstraint(condition=Q(count__gt=0), name="voucher_batch_count_pos"),
        ]

    def __str__(self) -> str:
        return f"Batch #{self.pk}: {self.count} x {fmt(self.amount, self.currency)}"

    @property
    def total(self):
        return self.amount * self.count


class Voucher(models.Model):
    batch = models.ForeignKey(VoucherBatch, on_delete=models.PROTECT, related_name="vouchers")
    currency = models.CharField(max_length=3, choices=[(c, c) for c in VOUCHER_CURRENCIES])
    amount = MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.ACTIVE
    )
    # HMAC-SHA256 hex of the normalised code; unique, so also the lookup index.
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    suffix = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="redeemed_vouchers",
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # The buy the voucher paid for (vouchers may import trading; never the
    # reverse). Its reference is what support and the customer quote.
    redeemed_trade = models.OneToOneField(
        "trading.Trade",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The expiry sweep looks for active vouchers past their date.
            models.Index(
                fields=["expires_at"],
                name="voucher_active_expiry_idx",
                condition=Q(status="active"),
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="voucher_amount_pos"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in VoucherStatus]),
                name="voucher_status_valid",
            ),
            # A redeemed voucher always says when; nothing else carries a redemption.
            models.CheckConstraint(
                condition=(Q(status="redeemed") & Q(redeemed_at__isnull=False))
                | (~Q(status="redeemed") & Q(redeemed_at__isnull=True)),
                name="voucher_redeemed_has_time",
            ),
            models.CheckConstraint(
                condition=(Q(status="void") & Q(voided_at__isnull=False) & ~Q(void_reason=""))
                | (~Q(status="void") & Q(voided_at__isnull=True)),
                name="voucher_void_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Voucher …{self.suffix} ({fmt(self.amount, self.currency)}, {self.status})"

    @property
    def display_code(self) -> str:
        return f"DTX-…-{self.suffix}"

    def is_usable(self, *, now=None) -> bool:
        now = now or timezone.now()
        return self.status == VoucherStatus.ACTIVE and self.expires_at > now

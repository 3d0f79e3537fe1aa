"""Payments: Relworx mobile-money requests and their webhooks, bank deposits
and the audit of every staff decision on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from dtexchange.field_encryption import EncryptedTextField
from ledger.fields import MoneyField
from ledger.money import CURRENCY_CHOICES, DECIMAL_PLACES, MAX_DIGITS
from payments.phone import PROVIDER_CHOICES

WAITING_CHOICES = [
    ("relworx_refused", "Relworx refused our key or IP (our configuration)"),
    ("relworx_throttled", "Relworx asked us to slow down"),
    ("low_float", "Not enough float on the Relworx wallet"),
    ("ambiguous", "A resend was refused; waiting for the status check"),
    ("account_frozen", "Staff froze the account (a stop switch)"),
]


def _money(**kwargs) -> MoneyField:
    return MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class MobileMoneyPayment(models.Model):
    """One Relworx request: a collection (the customer pays us, for a buy) or a
    payout (we pay the customer, for a sell).

    ``reference`` is ours, sent to Relworx, unique, and reused on every retry
    so Relworx deduplicates. ``internal_reference`` is Relworx's, known once it
    accepted the request (a webhook can name either). Status moves only from
    ``pending`` to ``succeeded`` or ``failed``, by compare-and-set.
    """

    class Direction(models.TextChoices):
        COLLECTION = "collection", "Collection"
        PAYOUT = "payout", "Payout"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    direction = models.CharField(max_length=16, choices=Direction.choices)
    trade = models.ForeignKey(
        "trading.Trade",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobile_money_payments",
    )
    # Or a top-up of the fiat wallet (a collection without a trade).
    top_up = models.ForeignKey(
        "wallet.Deposit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mobile_money_payments",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mobile_money_payments"
    )
    reference = models.CharField(max_length=36, unique=True)
    internal_reference = models.CharField(max_length=64, unique=True, null=True, blank=True)
    msisdn = EncryptedTextField()  # E.164, Fernet-encrypted at rest
    msisdn_hash = models.CharField(max_length=64, db_index=True)  # keyed hash, for lookups
    provider = models.CharField(max_length=16, choices=PROVIDER_CHOICES)
    amount = _money()
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # Relworx accepted the request (we hold its internal_reference) at:
    submitted_at = models.DateTimeField(null=True, blank=True)
    submit_attempts = models.PositiveIntegerField(default=0)
    # Status polls made, and when the next one is due (backing off).
    attempts = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    amount_received = _money(null=True, blank=True)  # as Relworx reported it
    # Relworx's fee for this transaction (posted to the Relworx-fees expense
    # account) and the network's own id (what MTN/Airtel support ask for).
    charge = _money(null=True, blank=True)
    provider_transaction_id = models.CharField(max_length=128, blank=True, db_index=True)
    # Payouts: the number's registered holder, from Relworx's validate (only
    # Airtel numbers can be validated, so often empty).
    customer_name = models.CharField(max_length=255, blank=True)
    # Some attempt of this request may have reached Relworx: from then on only
    # the status check (or a webhook confirmed by it) decides its outcome, never
    # a refusal of a resend.
    maybe_sent = models.BooleanField(default=False)
    # Why a pending request is not moving, for staff and for the customer.
    waiting_reason = models.CharField(max_length=32, blank=True, choices=WAITING_CHOICES)
    error_code = models.CharField(max_length=64, blank=True)  # Relworx's, last seen
    failure_reason = models.TextField(blank=True)
    # Something a person must look at (amount mismatch, conflicting outcomes, ...).
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.TextField(blank=True)
    # A person resolved the flag (see PaymentResolution); a new flag reopens it.
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_status_raw = models.JSONField(default=dict, blank=True)
    # What our side did with the outcome: settled the trade, credited the
    # wallet (late payment), completed/refunded the payout, ...
    outcome = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_poll_at"],
                name="momo_pending_poll_idx",
                condition=models.Q(status="pending"),
            )
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="momo_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.reference} ({self.status})"


class WebhookEvent(models.Model):
    """Each verified Relworx webhook, stored once: a repeat of the same event
    (same references and status) hits the unique ``event_key`` and is not
    processed again. Invalid webhooks are only logged, never stored."""

    event_key = models.CharField(max_length=64, unique=True)  # sha256 of refs + status
    customer_reference = models.CharField(max_length=64, db_index=True)
    internal_reference = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16)
    payload = models.JSONField(default=dict)
    signed_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    payment = models.ForeignKey(
        MobileMoneyPayment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_events",
    )
    result = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.internal_reference} {self.status}"


class BankDeposit(models.Model):
    """A buy (``trade``) or a wallet top-up (``top_up``) paid by bank
    transfer, waiting for a reviewer to find it on the bank statement by its
    ``reference_code``."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    trade = models.OneToOneField(
        "trading.Trade",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank_deposit",
    )
    top_up = models.OneToOneField(
        "wallet.Deposit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank_deposit",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bank_deposits"
    )
    reference_code = models.CharField(max_length=16, unique=True)
    expected_amount = _money()
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    amount_received = _money(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # For a person to look at after approval: money above the method maximum
    # went to the fiat wallet, or the reserve could not cover the trade.
    flagged = models.BooleanField(default=False, db_index=True)
    flag_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]  # the review queue: oldest first
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expected_amount__gt=0), name="deposit_expected_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(amount_received__gt=0),
                name="deposit_approved_has_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.reference_code


class AppendOnlyError(Exception):
    pass


class DepositDecision(models.Model):
    """Audit trail of review decisions: who decided what, when, why, on which
    amounts. Append-only: rows are never updated or deleted (the model refuses,
    and the admin offers no change or delete)."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    deposit = models.ForeignKey(BankDeposit, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_email = models.EmailField()  # as it was at the time
    decided_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)
    expected_amount = _money()
    amount_received = _money(null=True, blank=True)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    ledger_reference = models.CharField(max_length=64, blank=True)
    # A four-eyes decision: who proposed it (``actor`` confirmed it).
    proposal = models.ForeignKey(
        "DecisionProposal", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_by_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.deposit} {self.decision} by {self.actor_email}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Deposit decisions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Deposit decisions are append-only.")


class PaymentResolution(models.Model):
    """Audit trail of staff resolutions of flagged mobile-money payments: who
    resolved which flag, when, how, why, and what money moved. Append-only (the
    model refuses, a database trigger refuses too, the admin offers no change
    or delete). At most one resolution per payment credits money."""

    class Outcome(models.TextChoices):
        CREDITED = "credited", "Credited to the user's wallet"
        DISMISSED = "dismissed", "Dismissed (handled outside)"

    payment = models.ForeignKey(
        MobileMoneyPayment, on_delete=models.PROTECT, related_name="resolutions"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    actor_email = models.EmailField()  # as it was at the time
    resolved_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField()
    # The payment as the person saw it.
    flag_reason = models.TextField(blank=True)
    payment_status = models.CharField(max_length=16)
    amount_credited = _money(null=True, blank=True)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    ledger_reference = models.CharField(max_length=64, blank=True)
    # A four-eyes credit: who proposed it (``actor`` confirmed it).
    proposal = models.ForeignKey(
        "DecisionProposal", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_by_email = models.EmailField(blank=True)

    class Meta:
        ordering = ["-resolved_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(note=""), name="resolution_note_required"),
            models.CheckConstraint(
                condition=~models.Q(outcome="credited") | models.Q(amount_credited__gt=0),
                name="resolution_credit_has_amount",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(outcome="credited"),
                name="resolution_one_credit_per_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment.reference} {self.outcome} by {self.actor_email}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Payment resolutions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Payment resolutions are append-only.")


class DecisionProposal(models.Model):
    """The first half of a four-eyes decision (payments/services/four_eyes.py):
    one staff member proposes approving a deposit or crediting a flagged
    payment, a different one confirms (then the decision is made and its audit
    row names both), or the money is decided another way and the proposal is
    closed. At most one open proposal per deposit or payment; the proposer can
    never be the confirmer (also a database CHECK)."""

    class Kind(models.TextChoices):
        DEPOSIT_APPROVE = "deposit_approve", "Approve a bank deposit"
        FLAG_CREDIT = "flag_credit", "Credit a flagged payment"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a second person"
        CONFIRMED = "confirmed", "Confirmed"
        CLOSED = "closed", "Closed (decided otherwise)"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    deposit = models.ForeignKey(
        BankDeposit, on_delete=models.PROTECT, null=True, blank=True, related_name="proposals"
    )
    payment = models.ForeignKey(
        MobileMoneyPayment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="proposals",
    )
    amount = _money()
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_by_email = models.EmailField()  # as it was at the time
    proposed_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_by_email = models.EmailField(blank=True)
    closed_by_email = models.EmailField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="proposal_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    deposit__isnull=False, payment__isnull=True, kind="deposit_approve"
                )
                | models.Q(deposit__isnull=True, payment__isnull=False, kind="flag_credit"),
                name="proposal_one_target",
            ),
            models.CheckConstraint(
                condition=models.Q(confirmed_by__isnull=True)
                | ~models.Q(confirmed_by=models.F("proposed_by")),
                name="proposal_four_eyes",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="confirmed") | models.Q(confirmed_by__isnull=False),
                name="proposal_confirmed_has_confirmer",
            ),
            models.UniqueConstraint(
                fields=["deposit"],
                condition=models.Q(status="open", deposit__isnull=False),
                name="proposal_one_open_per_deposit",
            ),
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(status="open", payment__isnull=False),
                name="proposal_one_open_per_payment",
            ),
        ]

    def __str__(self) -> str:
        target = self.deposit or self.payment
        return f"{self.get_kind_display()} {target}: {self.amount} {self.currency}"


class StatementDifference(models.Model):
    """A difference between Relworx's transaction list and our payments, found
    by the daily statement reconciliation: for a person to look at. One row
    per (kind, reference); found again, it is left as it is."""

    class Kind(models.TextChoices):
        MISSING_THERE = "missing_there", "Ours, not on Relworx's statement"
        UNKNOWN_HERE = "unknown_here", "On Relworx's statement, unknown here"
        STATUS_DIFFERS = "status_differs", "Final statuses differ"
        AMOUNT_DIFFERS = "amount_differs", "Amounts or currencies differ"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    reference = models.CharField(max_length=64)  # our reference (customer_reference there)
    internal_reference = models.CharField(max_length=64, blank=True)
    payment = models.ForeignKey(
        MobileMoneyPayment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement_differences",
    )
    details = models.JSONField(default=dict, blank=True)
    found_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-found_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="statement_diff_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"

"""The double-entry ledger.

Every movement of value is one ``LedgerTransaction`` of two or more
``LedgerEntry`` rows that sum to zero per currency. An account's balance is
the sum of its entries; ``LedgerAccount.balance`` is a cache of that sum,
written only by ``ledger.services.ledger_post`` under a row lock and
checked by ``manage.py reconcile_ledger``. Entries and transactions are
append-only: PostgreSQL triggers (trading migration 0002, written before the
ledger had its own app; the tables kept their ``trading_`` names) refuse
UPDATE and DELETE,
and refuse at commit a transaction whose entries do not balance.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.fields import MoneyField
from ledger.money import CURRENCY_CHOICES, DECIMAL_PLACES, MAX_DIGITS


class AccountKind(models.TextChoices):
    USER_WALLET = "user_wallet", "User wallet"
    RESERVE = "reserve", "House reserve"
    FEE_REVENUE = "fee_revenue", "Fee revenue"
    MOBILE_MONEY_CLEARING = "mobile_money_clearing", "Mobile money clearing"
    BANK_CLEARING = "bank_clearing", "Bank clearing"
    VOUCHER_LIABILITY = "voucher_liability", "Voucher liability"
    EQUITY = "equity", "Equity / external"
    # What the mobile-money provider charges us per transaction (an expense).
    RELWORX_FEES = "relworx_fees", "Relworx fees (expense)"
    # Withdrawals on their way out: the amount left the user's wallet at once
    # and waits here until it is paid out, or goes back.
    WITHDRAWAL_HOLD = "withdrawal_hold", "Withdrawals on hold"


# Kinds whose balance may never go below zero: what a customer holds, and the
# coins/cash the house really has. The other house accounts are the
# counterparts of outside money and run negative by design (equity funds the
# reserve, clearing is debited when a payout leaves).
NON_NEGATIVE_KINDS: tuple[str, ...] = (AccountKind.USER_WALLET, AccountKind.RESERVE)
HOUSE_KINDS: tuple[str, ...] = tuple(k for k in AccountKind.values if k != AccountKind.USER_WALLET)


class TransactionKind(models.TextChoices):
    """The kinds the project posts today. The column has no ``choices`` on
    purpose: payments and vouchers may add kinds without a migration in
    ``trading``; ``ledger_post`` checks the shape of the word instead."""

    TRADE = "trade", "Trade"
    DEPOSIT = "deposit", "Deposit"
    WALLET_CREDIT = "wallet_credit", "Wallet credit"
    PAYOUT = "payout", "Payout"
    PAYOUT_REFUND = "payout_refund", "Payout refund"
    VOUCHER_ISSUE = "voucher_issue", "Voucher issue"
    VOUCHER_REDEMPTION = "voucher_redemption", "Voucher redemption"
    REVERSAL = "reversal", "Reversal"
    RESERVE_FUNDING = "reserve_funding", "Reserve funding"
    ADJUSTMENT = "adjustment", "Adjustment"


def _amount_field(**kwargs) -> MoneyField:
    return MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class LedgerAccount(models.Model):
    """A user's wallet in one currency, or a house account (owner NULL)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,  # money outlives nothing by accident
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    balance = _amount_field(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "trading_ledgeraccount"
        ordering = ["id"]
        constraints = [
            # NULL owners never collide in a plain unique index, so house
            # accounts get their own partial one.
            models.UniqueConstraint(
                fields=["owner", "currency", "kind"],
                condition=Q(owner__isnull=False),
                name="ledger_account_unique_owned",
            ),
            models.UniqueConstraint(
                fields=["currency", "kind"],
                condition=Q(owner__isnull=True),
                name="ledger_account_unique_house",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=NON_NEGATIVE_KINDS, balance__lt=0),
                name="ledger_account_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind=AccountKind.USER_WALLET, owner__isnull=False)
                | (~Q(kind=AccountKind.USER_WALLET) & Q(owner__isnull=True)),
                name="ledger_account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.owner_id}" if self.owner_id else "house"
        return f"{self.kind} {self.currency} ({who})"

    @property
    def must_stay_non_negative(self) -> bool:
        return self.kind in NON_NEGATIVE_KINDS


class LedgerTransaction(models.Model):
    """One balanced posting. ``idempotency_key`` makes a replay a no-op."""

    kind = models.CharField(max_length=32)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=200, blank=True)  # "user:12", "system:celery", ...
    description = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=100, blank=True, db_index=True)

    class Meta:
        db_table = "trading_ledgertransaction"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class LedgerEntry(models.Model):
    """A signed amount on one account; + credits the account, - debits it."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    # Denormalised from the account so "sums to zero per currency" is one
    # GROUP BY; the commit-time trigger checks it matches the account's.
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    amount = _amount_field()

    class Meta:
        db_table = "trading_ledgerentry"
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on account {self.account_id}"

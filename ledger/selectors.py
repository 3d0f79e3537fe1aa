"""Read-only views of the ledger: balances, and the reconciliation checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from dtexchange.errors import InvalidInput
from ledger import money
from ledger.models import (
    NON_NEGATIVE_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)

_ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=38, decimal_places=18))


def balance_get(*, user, currency: str) -> Decimal:
    """The user's wallet balance in ``currency`` (zero if they have no wallet)."""
    try:
        code = money.currency(currency).code
    except money.UnknownCurrency:
        raise InvalidInput(
            f"Unknown currency {currency!r}.",
            code="unknown_currency",
            details={"currency": str(currency)},
        ) from None
    balance = (
        LedgerAccount.objects.filter(owner=user, currency=code, kind=AccountKind.USER_WALLET)
        .values_list("balance", flat=True)
        .first()
    )
    return money.quantize(balance if balance is not None else Decimal(0), code)


def balances_for_user(*, user) -> dict[str, Decimal]:
    """Every currency's wallet balance, zero where the user has no wallet,
    in the order of ``money.CURRENCIES``."""
    held = dict(
        LedgerAccount.objects.filter(owner=user, kind=AccountKind.USER_WALLET).values_list(
            "currency", "balance"
        )
    )
    return {code: money.quantize(held.get(code, Decimal(0)), code) for code in money.CURRENCIES}


# --- Reconciliation -----------------------------------------------------------


@dataclass(frozen=True)
class LedgerProblem:
    check: str  # cached_balance, entry_currency, unbalanced_transaction, ...
    message: str


@dataclass
class LedgerReconciliation:
    accounts: int = 0
    transactions: int = 0
    entries: int = 0
    # currency -> (reserve balance, sum of user wallets)
    totals: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    problems: list[LedgerProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Sums:
    by_account: dict[int, Decimal]  # account -> sum of its entries
    unbalanced: list[tuple[int, str, Decimal]]  # (transaction, currency, non-zero sum)
    # currency -> (all cached balances, reserve, user wallets)
    by_currency: dict[str, tuple[Decimal, Decimal, Decimal]]
    entry_totals: dict[str, Decimal]  # currency -> non-zero sum of all its entries


def _sums() -> _Sums:
    # PostgreSQL sums NUMERIC exactly, in the database: a big ledger is not
    # streamed to the app.
    by_account = dict(
        LedgerAccount.objects.annotate(
            entry_sum=Coalesce(Sum("entries__amount"), _ZERO)
        ).values_list("pk", "entry_sum")
    )
    unbalanced = [
        (row["transaction_id"], row["currency"], row["total"])
        for row in LedgerEntry.objects.values("transaction_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id", "currency")
    ]
    by_currency = {
        row["currency"]: (row["cached"], row["reserve"], row["wallets"])
        for row in LedgerAccount.objects.values("currency")
        .annotate(
            cached=Sum("balance"),
            reserve=Coalesce(Sum("balance", filter=Q(kind=AccountKind.RESERVE)), _ZERO),
            wallets=Coalesce(Sum("balance", filter=Q(kind=AccountKind.USER_WALLET)), _ZERO),
        )
        .order_by("currency")
    }
    entry_totals = {
        row["currency"]: row["total"]
        for row in LedgerEntry.objects.values("currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("currency")
    }
    return _Sums(by_account, unbalanced, by_currency, entry_totals)


def ledger_reconcile() -> LedgerReconciliation:
    """Check every ledger invariant; read-only. Problems name the account or
    transaction, the currency, and the expected versus the found figure."""
    report = LedgerReconciliation(
        accounts=LedgerAccount.objects.count(),
        transactions=LedgerTransaction.objects.count(),
        entries=LedgerEntry.objects.count(),
    )
    add = report.problems.append
    sums = _sums()

    accounts = LedgerAccount.objects.values_list("pk", "kind", "currency", "owner_id", "balance")
    for pk, kind, code, owner_id, cached in accounts:
        summed = sums.by_account.get(pk, Decimal(0))
        label = f"account {pk} ({kind} {code}" + (f", user {owner_id})" if owner_id else ")")
        if cached != summed:
            add(
                LedgerProblem(
                    "cached_balance",
                    f"{label}: cached balance {cached} but its entries sum to {summed}",
                )
            )
        if kind in NON_NEGATIVE_KINDS and min(cached, summed) < 0:
            add(
                LedgerProblem(
                    "negative_balance",
                    f"{label}: must be >= 0, found {min(cached, summed)}",
                )
            )

    mismatched = LedgerEntry.objects.exclude(currency=F("account__currency")).values_list(
        "pk", "transaction_id", "currency", "account_id", "account__currency"
    )
    for pk, txn_id, code, account_id, account_code in mismatched:
        add(
            LedgerProblem(
                "entry_currency",
                f"entry {pk} (transaction {txn_id}) is in {code}, "
                f"expected its account {account_id}'s currency {account_code}",
            )
        )

    for txn_id, code, total in sums.unbalanced:
        add(
            LedgerProblem(
                "unbalanced_transaction",
                f"transaction {txn_id} {code}: entries should sum to 0, found {total}",
            )
        )

    thin = (
        LedgerTransaction.objects.annotate(n=Count("entries"))
        .filter(n__lt=2)
        .values_list("pk", "n")
    )
    for pk, n in thin:
        add(
            LedgerProblem(
                "short_transaction", f"transaction {pk}: expected >= 2 entries, found {n}"
            )
        )

    for code, (cached, reserve, wallets) in sums.by_currency.items():
        report.totals[code] = (reserve, wallets)
        if cached != 0:
            add(
                LedgerProblem(
                    "currency_total",
                    f"{code}: cached balances over all accounts should sum to 0, found {cached}",
                )
            )
    for code, total in sums.entry_totals.items():
        add(
            LedgerProblem(
                "currency_total",
                f"{code}: entries over all accounts should sum to 0, found {total}",
            )
        )
    return report

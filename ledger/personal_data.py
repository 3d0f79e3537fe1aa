"""The ledger's part of a person's data export and erasure
(accounts/personal_data.py): their wallets and every movement in them."""

from decimal import Decimal

from django.conf import settings

from ledger.models import AccountKind, LedgerAccount, LedgerEntry, TransactionKind
from ledger.money import fmt
from ledger.services import house_account, ledger_post


def _wallets(user):
    return LedgerAccount.objects.filter(owner=user, kind=AccountKind.USER_WALLET).order_by("pk")


def export(user) -> dict:
    entries = (
        LedgerEntry.objects.filter(account__owner=user)
        .select_related("transaction", "account")
        .order_by("transaction__created_at", "pk")
    )
    return {
        "balances": {w.currency: w.balance for w in _wallets(user)},
        "movements": [
            {
                "at": e.transaction.created_at,
                "currency": e.currency,
                "amount": e.amount,
                "kind": e.transaction.kind,
                "description": e.transaction.description,
                "transaction_id": e.transaction_id,
            }
            for e in entries
        ],
    }


def _small(wallet) -> bool:
    limit = settings.ERASURE_SMALL_BALANCE_LIMITS.get(wallet.currency)
    return limit is not None and 0 < wallet.balance < limit


def blockers(user, give_up_small_balances: bool) -> list[dict]:
    out = []
    for wallet in _wallets(user):
        if wallet.balance == 0 or (give_up_small_balances and _small(wallet)):
            continue
        amount = fmt(wallet.balance, wallet.currency)
        if _small(wallet):
            out.append(
                {
                    "code": "small_balance",
                    "message": f"{amount} is left; confirm you give it up to close the account",
                    "currency": wallet.currency,
                }
            )
        else:
            out.append(
                {
                    "code": "balance_not_zero",
                    "message": f"{amount} is still in your wallet: withdraw or sell it first",
                    "currency": wallet.currency,
                }
            )
    return out


def erase(user, give_up_small_balances: bool) -> dict | None:
    """Balances below the limits, given up with the user's confirmation, go
    to house equity in one recorded posting per currency."""
    given_up = {}
    if give_up_small_balances:
        for wallet in _wallets(user).select_for_update():
            if not _small(wallet):
                continue
            amount = Decimal(wallet.balance)
            ledger_post(
                kind=TransactionKind.ADJUSTMENT,
                idempotency_key=f"erasure:small_balance:{user.pk}:{wallet.currency}",
                entries=[
                    (wallet, -amount),
                    (house_account(kind=AccountKind.EQUITY, currency=wallet.currency), amount),
                ],
                description="Small balance given up when the account was closed",
                actor=f"user:{user.pk}",
            )
            given_up[wallet.currency] = amount
    return {"small_balances_given_up": given_up} if given_up else None

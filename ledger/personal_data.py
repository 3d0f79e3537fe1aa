"""The ledger's part of a person's data export and erasure
(accounts/personal_data.py): their wallets and every movement in them."""

from decimal import Decimal

from django.conf import settings

from ledger.errors import ErasureBalanceNotZero
from ledger.models import AccountKind, LedgerAccount, LedgerEntry, TransactionKind
from ledger.money import fmt
from ledger.services import house_account, ledger_accounts_lock, ledger_post


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


def _blockers_of(wallets, give_up_small_balances: bool) -> list[dict]:
    out = []
    for wallet in wallets:
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


def blockers(user, give_up_small_balances: bool) -> list[dict]:
    return _blockers_of(_wallets(user), give_up_small_balances)


def erase(user, give_up_small_balances: bool) -> dict | None:
    """Give up what is left in the user's wallets, or refuse.

    Runs in the erasure's transaction. Locks the user's wallets and the house
    equity accounts of their currencies together, in pk order (the order
    every posting locks in, so an erasure and a concurrent credit cannot
    deadlock), then looks at the balances again under the lock: money that
    arrived after ``blockers`` was asked (a refund, a late payment) and is not
    a small balance given up refuses the erasure (ErasureBalanceNotZero, 409;
    the whole erasure rolls back). Small balances given up with the user's
    confirmation go to house equity in one recorded posting for all
    currencies."""
    wallets = list(_wallets(user))
    if not wallets:
        return None
    equity = {
        w.currency: house_account(kind=AccountKind.EQUITY, currency=w.currency) for w in wallets
    }
    locked = ledger_accounts_lock(accounts=[*wallets, *equity.values()])
    wallets = [locked[w.pk] for w in wallets]
    left = _blockers_of(wallets, give_up_small_balances)
    if left:
        raise ErasureBalanceNotZero(
            "The account cannot be closed yet: " + "; ".join(b["message"] for b in left),
            details={"blockers": left},
        )
    given_up = {w.currency: Decimal(w.balance) for w in wallets if w.balance != 0}
    if not given_up:
        return None
    entries = []
    for wallet in wallets:
        amount = given_up.get(wallet.currency)
        if amount:
            entries += [(wallet, -amount), (equity[wallet.currency], amount)]
    ledger_post(
        kind=TransactionKind.ADJUSTMENT,
        idempotency_key=f"erasure:small_balances:{user.pk}",
        entries=entries,
        description="Small balances given up when the account was closed",
        actor=f"user:{user.pk}",
    )
    return {"small_balances_given_up": given_up}

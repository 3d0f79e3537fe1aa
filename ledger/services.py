"""Posting to the double-entry ledger: the only code that writes ledger rows.

``ledger_post`` is the single entry point for moving value. The other
services here (``wallet_account``, ``house_account``, ``reserve_fund``) are
thin helpers around it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from dtexchange.errors import InvalidInput, NotFound
from ledger import money, sql
from ledger.errors import IdempotencyKeyReused, InsufficientBalance, InvalidPosting
from ledger.models import (
    HOUSE_KINDS,
    NON_NEGATIVE_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerTransaction,
    TransactionKind,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PostResult:
    """What ``ledger_post_result`` did: ``transaction`` is the posted one, or
    the one already posted under the same key (``replayed``: nothing was
    written by this call)."""

    transaction: LedgerTransaction
    replayed: bool


_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# NUMERIC(38, 18) holds at most 20 integer digits.
_AMOUNT_LIMIT = Decimal(10) ** (money.MAX_DIGITS - money.DECIMAL_PLACES)

# What `make run`'s demo data puts in each reserve, so a newcomer can trade at once.
DEMO_RESERVE_AMOUNTS: dict[str, Decimal] = {
    "BTC": Decimal("5"),
    "ETH": Decimal("100"),
    "SOL": Decimal("2000"),
    "TRX": Decimal("1000000"),
    "USD": Decimal("200000"),
    "UGX": Decimal("800000000"),
}


def _currency_code(currency: str) -> str:
    try:
        return money.currency(currency).code
    except money.UnknownCurrency:
        raise InvalidInput(
            f"Unknown currency {currency!r}.",
            code="unknown_currency",
            details={"currency": str(currency)},
        ) from None


def wallet_account(*, user, currency: str) -> LedgerAccount:
    """The user's wallet in ``currency``, created on first use.

    Race-safe: two concurrent first uses meet on the partial unique index and
    ``get_or_create`` (savepoint + re-read) returns the winner's row to both.
    """
    if user is None or user.pk is None:
        raise ValueError("wallet_account needs a saved user")
    code = _currency_code(currency)
    account, _ = LedgerAccount.objects.get_or_create(
        owner=user, currency=code, kind=AccountKind.USER_WALLET
    )
    return account


def wallet_account_lock(*, user, currency: str) -> LedgerAccount:
    """The user's wallet in ``currency``, locked (``SELECT … FOR UPDATE``) for
    the rest of the caller's transaction: a service that must decide on the
    balance and post in one step (a withdrawal) takes it first, so parallel
    requests of the user queue here. Lock order: the wallet before the house
    accounts its posting touches."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("wallet_account_lock must run inside a transaction.")
    account = wallet_account(user=user, currency=currency)
    return LedgerAccount.objects.select_for_update().get(pk=account.pk)


def house_account(*, kind: str, currency: str) -> LedgerAccount:
    """The house account of ``kind`` in ``currency`` (reserve, fee revenue,
    clearing, voucher liability, equity), created on first use."""
    if kind not in HOUSE_KINDS:
        raise InvalidInput(
            f"{kind!r} is not a house account kind.",
            code="unknown_account_kind",
            details={"kind": str(kind)},
        )
    code = _currency_code(currency)
    account, _ = LedgerAccount.objects.get_or_create(owner=None, currency=code, kind=kind)
    return account


def ledger_accounts_lock(*, accounts: Sequence[LedgerAccount]) -> dict[int, LedgerAccount]:
    """Lock ``accounts`` (``SELECT … FOR UPDATE`` in pk order, the order every
    posting locks in) for the rest of the caller's transaction and return
    them as the database has them now, by pk: for a caller that must look at
    balances under the lock before deciding what to post (then post with
    ``ledger_post`` in the same transaction)."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_accounts_lock holds its locks until commit: call it in atomic.")
    ids = sorted({account.pk for account in accounts})
    rows = LedgerAccount.objects.filter(pk__in=ids).order_by("pk").select_for_update()
    return {account.pk: account for account in rows}


def accounts_get_or_create(*specs: tuple) -> list[LedgerAccount]:
    """The accounts of ``(owner or None, kind, currency)`` specs, in order, in
    one query; any that does not exist yet is created by ``wallet_account`` /
    ``house_account`` (race-safe). The instances carry id, owner, kind and
    currency (all a posting needs); ``balance`` is read from the database if
    asked."""
    owned = [(owner, kind, code) for owner, kind, code in specs if owner]
    house = [(kind, code) for owner, kind, code in specs if not owner]
    rows = sql.accounts_find(
        # str(): psycopg would send an Enum member's name, not its value.
        owner_ids=sorted({o.pk for o, _, _ in owned}),
        owner_kinds=sorted({str(k) for _, k, _ in owned}),
        owner_currencies=sorted({str(c) for _, _, c in owned}),
        house_kinds=sorted({str(k) for k, _ in house}),
        house_currencies=sorted({str(c) for _, c in house}),
    )
    found = {(a.owner_id, a.kind, a.currency): a for a in rows}
    out = []
    for owner, kind, code in specs:
        key = (owner.pk if owner else None, kind, code)
        if key not in found:
            found[key] = (
                wallet_account(user=owner, currency=code)
                if owner
                else house_account(kind=kind, currency=code)
            )
        out.append(found[key])
    return out


def _aggregate(entries: Sequence[tuple[LedgerAccount, Decimal]]) -> dict[int, Decimal]:
    """Validate the entries (no database access) and net them per account."""
    if len(entries) < 2:
        raise InvalidPosting("A ledger transaction needs at least two entries.")
    deltas: dict[int, Decimal] = {}
    currencies: dict[int, str] = {}
    per_currency: dict[str, Decimal] = {}
    for item in entries:
        try:
            account, amount = item
        except (TypeError, ValueError):
            raise InvalidPosting("Each entry is an (account, Decimal amount) pair.") from None
        if not isinstance(account, LedgerAccount) or account.pk is None:
            raise InvalidPosting("Each entry needs a saved LedgerAccount.")
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidPosting(
                "Ledger amounts are finite Decimals.",
                details={"account_id": account.pk, "amount": str(amount)},
            )
        if amount.is_zero():
            raise InvalidPosting(
                "A ledger entry cannot be zero.", details={"account_id": account.pk}
            )
        if abs(amount) >= _AMOUNT_LIMIT or not money.has_valid_precision(amount, account.currency):
            raise InvalidPosting(
                f"{amount} is not a valid {account.currency} amount.",
                details={"currency": account.currency, "amount": str(amount)},
            )
        deltas[account.pk] = deltas.get(account.pk, Decimal(0)) + amount
        currencies[account.pk] = account.currency
        per_currency[account.currency] = per_currency.get(account.currency, Decimal(0)) + amount
    if len(deltas) < 2:
        raise InvalidPosting("A ledger transaction moves value between at least two accounts.")
    unbalanced = {code: str(total) for code, total in per_currency.items() if total != 0}
    if unbalanced:
        raise InvalidPosting(
            "The entries do not sum to zero per currency.", details={"unbalanced": unbalanced}
        )
    return deltas


def _check_header(kind: str, idempotency_key: str, description: str, actor: str, reference: str):
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind):
        raise InvalidPosting(f"Bad transaction kind {kind!r}.")
    if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200:
        raise InvalidPosting("An idempotency key of 1 to 200 characters is required.")
    for name, value, limit in (
        ("description", description, 500),
        ("actor", actor, 200),
        ("reference", reference, 100),
    ):
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidPosting(f"{name} must be a string of at most {limit} characters.")


def _replay(
    *, txn: LedgerTransaction, idempotency_key: str, kind: str, deltas: dict[int, Decimal]
) -> PostResult:
    """The transaction already posted under the key, if it is the same posting."""
    posted: dict[int, Decimal] = {}
    for account_id, amount in txn.entries.values_list("account_id", "amount"):
        posted[account_id] = posted.get(account_id, Decimal(0)) + amount
    if txn.kind != kind or posted != deltas:
        raise IdempotencyKeyReused(details={"idempotency_key": idempotency_key})
    return PostResult(transaction=txn, replayed=True)


def _refuse(
    *,
    entries: Sequence[tuple[LedgerAccount, Decimal]],
    deltas: dict[int, Decimal],
    locked: dict[int, tuple],
) -> None:
    """Raise the reason the locked accounts cannot take this posting, if any."""
    missing = sorted(set(deltas) - set(locked))
    if missing:
        raise InvalidPosting("Unknown ledger account.", details={"account_ids": missing})
    for account, _amount in entries:
        if locked[account.pk][1] != account.currency:
            raise InvalidPosting("An entry's currency differs from its account's.")
    for pk in sorted(deltas):
        acc_kind, currency, balance = locked[pk]
        delta = deltas[pk]
        if delta < 0 and acc_kind in NON_NEGATIVE_KINDS and balance + delta < 0:
            if acc_kind == AccountKind.USER_WALLET:
                raise InsufficientBalance(
                    details={
                        "currency": currency,
                        "available": str(money.quantize(balance, currency)),
                        "required": str(money.quantize(-delta, currency)),
                    }
                )
            # The house's own figures are not for customers' eyes.
            log.warning(
                "ledger.reserve_short",
                account_id=pk,
                currency=currency,
                available=str(balance),
                required=str(-delta),
            )
            raise InsufficientBalance(
                "The exchange's reserve cannot cover this right now.",
                details={"currency": currency},
            )


def _post_send(
    cursor,
    *,
    kind: str,
    idempotency_key: str,
    entries: Sequence[tuple[LedgerAccount, Decimal]],
    deltas: dict[int, Decimal],
    description: str,
    actor: str,
    reference: str,
) -> Callable[[], PostResult]:
    """Send the posting on ``cursor``; the returned function reads its result
    (after the round trip) and returns the PostResult, or raises as
    ``ledger_post`` does."""
    now = timezone.now()
    currency_of = {account.pk: account.currency for account, _ in entries}
    # Nothing is written unless the posting goes through whole, so a refusal
    # leaves the caller's transaction usable (no savepoint needed).
    sql.post_send(
        cursor,
        header=[kind, idempotency_key, now, actor, description, reference],
        entries=[(account.pk, account.currency, amount) for account, amount in entries],
        deltas={pk: (currency_of[pk], delta) for pk, delta in deltas.items()},
    )

    def result() -> PostResult:
        txn_id, locked = sql.post_read(cursor)
        if txn_id is None:
            # Either the key exists (a replay, or a concurrent post that
            # committed first — visible to this new query under READ
            # COMMITTED), which wins even if the balance no longer covers the
            # posting, or the posting is refused.
            existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(
                    txn=existing, idempotency_key=idempotency_key, kind=kind, deltas=deltas
                )
            _refuse(entries=entries, deltas=deltas, locked=locked)
            raise RuntimeError("ledger_post: posting neither written, replayed nor refused")
        txn = LedgerTransaction(
            pk=txn_id,
            kind=kind,
            idempotency_key=idempotency_key,
            created_at=now,
            actor=actor,
            description=description,
            reference=reference,
        )
        txn._state.adding = False
        txn._state.db = connection.alias
        return PostResult(transaction=txn, replayed=False)

    return result


def _checked(kind, idempotency_key, entries, description, actor, reference) -> dict:
    """The posting's arguments for ``_post_send``, validated (no database
    access), with the entries netted per account."""
    _check_header(kind, idempotency_key, description, actor, reference)
    return {
        "kind": kind,
        "idempotency_key": idempotency_key,
        "entries": entries,
        "deltas": _aggregate(entries),
        "description": description,
        "actor": actor,
        "reference": reference,
    }


def _post(**args) -> PostResult:
    with connection.cursor() as cursor:
        return _post_send(cursor, **args)()


def ledger_post(
    *,
    kind: str,
    idempotency_key: str,
    entries: list[tuple[LedgerAccount, Decimal]],
    description: str = "",
    actor: str = "",
    reference: str = "",
) -> LedgerTransaction:
    """Post one balanced transaction and return it.

    * ``entries``: two or more ``(account, amount)`` pairs; ``amount`` is a
      non-zero Decimal within the account currency's precision, + credits and
      - debits; they must sum to zero per currency (else ``InvalidPosting``).
    * Locks every touched account (``SELECT … FOR UPDATE`` in pk order) for the
      rest of the enclosing database transaction; call it inside your own
      ``transaction.atomic`` to post together with your other writes.
    * Raises ``InsufficientBalance`` (409) if a user wallet or reserve would
      go below zero. Nothing is written before that check, so the caller's
      transaction stays usable if it catches the error.
    * Idempotent on ``idempotency_key``: if a transaction with that key exists
      (or a concurrent call commits it first) it is returned and nothing is
      posted (``ledger_post_result`` says which happened). The same key with
      other entries or another kind raises ``IdempotencyKeyReused`` (409).
    """
    return ledger_post_result(
        kind=kind,
        idempotency_key=idempotency_key,
        entries=entries,
        description=description,
        actor=actor,
        reference=reference,
    ).transaction


def ledger_post_result(
    *,
    kind: str,
    idempotency_key: str,
    entries: list[tuple[LedgerAccount, Decimal]],
    description: str = "",
    actor: str = "",
    reference: str = "",
) -> PostResult:
    """``ledger_post``, returning whether this call posted or found the key
    already posted (``PostResult.replayed``), for callers that act only on a
    new posting (audit, a notification)."""
    args = _checked(kind, idempotency_key, entries, description, actor, reference)
    if connection.in_atomic_block:
        return _post(**args)
    with transaction.atomic():
        return _post(**args)


def ledger_post_send(
    cursor,
    *,
    kind: str,
    idempotency_key: str,
    entries: list[tuple[LedgerAccount, Decimal]],
    description: str = "",
    actor: str = "",
    reference: str = "",
) -> Callable[[], PostResult]:
    """``ledger_post_result`` sent on ``cursor`` inside the caller's
    transaction, so that it can share the round trip of the caller's own
    statements (a psycopg pipeline); call the returned function once the
    round trip is done (the pipeline has synced) for the PostResult, or the
    error ``ledger_post`` would raise. The caller's statements sent before
    it are written even if the posting is refused: the caller lets the
    refusal roll its transaction back."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_post_send posts in the caller's transaction: call it in atomic.")
    return _post_send(
        cursor, **_checked(kind, idempotency_key, entries, description, actor, reference)
    )


def reserve_fund(
    *,
    currency: str,
    amount: Decimal,
    actor: str,
    idempotency_key: str | None = None,
    description: str = "",
) -> PostResult:
    """Move ``amount`` from equity into the house reserve of ``currency``.

    Without an ``idempotency_key`` every call funds again (an operator's
    command); pass one to make a repeat a no-op (``replayed``).
    """
    code = _currency_code(currency)
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise InvalidInput(
            "The amount must be a positive number.",
            code="invalid_amount",
            details={"amount": str(amount)},
        )
    if abs(amount) >= _AMOUNT_LIMIT or not money.has_valid_precision(amount, code):
        raise InvalidInput(
            f"{code} amounts have at most {money.currency(code).precision} decimals.",
            code="invalid_amount",
            details={"amount": str(amount), "currency": code},
        )
    equity = house_account(kind=AccountKind.EQUITY, currency=code)
    reserve = house_account(kind=AccountKind.RESERVE, currency=code)
    with transaction.atomic():
        result = ledger_post_result(
            kind=TransactionKind.RESERVE_FUNDING,
            idempotency_key=idempotency_key or f"reserve_funding:{uuid.uuid4()}",
            entries=[(equity, -amount), (reserve, amount)],
            description=description or f"Reserve funded with {money.fmt(amount, code)}",
            actor=actor,
        )
        if not result.replayed:
            audit_record(
                action="reserve.fund",
                actor_label=actor,
                obj=result.transaction,
                after={"currency": code, "amount": amount},
                data={"idempotency_key": result.transaction.idempotency_key},
            )
    return result


def reserve_fund_demo(*, actor: str = "system:demo") -> list[tuple[str, Decimal, bool]]:
    """Fund every reserve with ``DEMO_RESERVE_AMOUNTS`` once (idempotent per
    currency). Returns ``(currency, amount, funded_now)`` per currency."""
    done = []
    for code, amount in DEMO_RESERVE_AMOUNTS.items():
        result = reserve_fund(
            currency=code,
            amount=amount,
            actor=actor,
            idempotency_key=f"demo:reserve_funding:{code}",
            description="Demo reserve",
        )
        done.append((code, amount, not result.replayed))
    return done


def ledger_reverse(
    *,
    transaction_id: int,
    actor: str,
    reason: str,
    idempotency_key: str | None = None,
) -> PostResult:
    """Post the exact opposite of a transaction (entries are never edited).

    Idempotent: by default a transaction can be reversed once (key
    ``reversal:<id>``). The usual checks apply, so reversing money a customer
    has already spent raises ``InsufficientBalance``.
    """
    original = LedgerTransaction.objects.filter(pk=transaction_id).first()
    if original is None:
        raise NotFound("No such ledger transaction.", details={"transaction_id": transaction_id})
    rows = list(original.entries.select_related("account").order_by("pk"))
    with transaction.atomic():
        result = ledger_post_result(
            kind=TransactionKind.REVERSAL,
            idempotency_key=idempotency_key or f"reversal:{original.pk}",
            entries=[(entry.account, -entry.amount) for entry in rows],
            description=f"Reversal of #{original.pk}: {reason}"[:500],
            actor=actor,
            reference=original.reference,
        )
        if not result.replayed:
            audit_record(
                action="ledger.reverse",
                actor_label=actor,
                obj=result.transaction,
                data={
                    "reversed_transaction_id": original.pk,
                    "reason": reason,
                    "entries": [{"account_id": e.account_id, "amount": -e.amount} for e in rows],
                },
            )
    return result

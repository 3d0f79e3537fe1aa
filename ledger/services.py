"""Posting to the double-entry ledger: the only code that writes ledger rows.

``ledger_post`` is the single entry point for moving value. The other
services here (``wallet_account``, ``house_account``, ``reserve_fund``) are
thin helpers around it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from decimal import Decimal

import structlog
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from audit.services import audit_record
from dtexchange.errors import InvalidInput, NotFound
from ledger import money
from ledger.errors import IdempotencyKeyReused, InsufficientBalance, InvalidPosting
from ledger.fields import EXACT
from ledger.models import (
    HOUSE_KINDS,
    NON_NEGATIVE_KINDS,
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)

log = structlog.get_logger(__name__)

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


def _replay(*, txn_id: int | None, idempotency_key: str, kind: str, deltas: dict[int, Decimal]):
    """Return the transaction already posted under the key, if it is the same posting."""
    if txn_id is None:
        txn = LedgerTransaction.objects.get(idempotency_key=idempotency_key)
    else:
        txn = LedgerTransaction.objects.get(pk=txn_id)
    posted: dict[int, Decimal] = {}
    for account_id, amount in txn.entries.values_list("account_id", "amount"):
        posted[account_id] = posted.get(account_id, Decimal(0)) + amount
    if txn.kind != kind or posted != deltas:
        raise IdempotencyKeyReused(details={"idempotency_key": idempotency_key})
    txn.replayed = True
    return txn


# PostgreSQL gets one hand-written statement per posting (below); other
# databases (SQLite for `make run`) the equivalent ORM calls. The tests run the
# portable path on PostgreSQL too by switching this off.
FAST_SQL = True

_ACCOUNT = LedgerAccount._meta.db_table
_TXN = LedgerTransaction._meta.db_table
_ENTRY = LedgerEntry._meta.db_table
_NON_NEGATIVE_SQL = ", ".join(f"'{kind}'" for kind in NON_NEGATIVE_KINDS)


def fast_sql_enabled() -> bool:
    return FAST_SQL and connection.vendor == "postgresql"


def _post_statement(
    *,
    header: list,
    entries: Sequence[tuple[LedgerAccount, Decimal]],
    deltas: dict[int, Decimal],
) -> tuple[int | None, dict[int, tuple]]:
    """PostgreSQL: the whole posting in ONE statement (one round trip).

    1. ``locked``: SELECT … FOR UPDATE the accounts in pk order (the one global
       lock order, so postings never deadlock). Under READ COMMITTED a row
       another transaction changed is waited for and returned as committed.
    2. ``ok``: every account exists, has the entry's currency, and no wallet
       or reserve would go below zero — judged on those locked rows.
    3. ``t``: only if ok, INSERT the transaction; ``ON CONFLICT DO NOTHING``
       on the key makes a replay, or the loser of a race (which waits on the
       unique index for the winner's commit), insert nothing.
    4. ``e``/``u``: the entries and the balance updates join ``t``, so they
       write nothing unless the transaction row was written. The UPDATE sees
       the rows locked in 1 (same statement: it re-reads the latest version).

    Returns the new transaction id (None if nothing was written) and the
    locked rows ``{pk: (kind, currency, balance)}`` for the caller to explain
    a refusal.
    """
    ids = sorted(deltas)
    currency_of = {acc.pk: acc.currency for acc, _ in entries}
    n = len(ids)
    delta_rows = ", ".join(["(%s::bigint, %s::varchar, %s::numeric)"] * n)
    entry_rows = ", ".join(["(%s::bigint, %s::varchar, %s::numeric)"] * len(entries))
    id_marks = ", ".join(["%s"] * n)
    sql = (
        f"WITH d(id, currency, delta) AS (VALUES {delta_rows}), "  # noqa: S608 (our tables)
        f"locked AS (SELECT a.id, a.kind, a.currency, a.balance FROM {_ACCOUNT} a "
        f"WHERE a.id IN ({id_marks}) ORDER BY a.id FOR UPDATE), "
        f"ok AS (SELECT count(*) = {n} AND coalesce(bool_and("
        "l.currency = d.currency AND NOT ("
        f"l.kind IN ({_NON_NEGATIVE_SQL}) AND l.balance + d.delta < 0)), false) AS ok "
        "FROM locked l JOIN d ON d.id = l.id), "
        f"t AS (INSERT INTO {_TXN} "
        "(kind, idempotency_key, created_at, actor, description, reference) "
        "SELECT %s, %s, %s, %s, %s, %s FROM ok WHERE ok.ok "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id), "
        f"e AS (INSERT INTO {_ENTRY} (transaction_id, account_id, currency, amount) "
        f"SELECT t.id, v.account_id, v.currency, v.amount FROM t, (VALUES {entry_rows}) "
        "AS v(account_id, currency, amount)), "
        f"u AS (UPDATE {_ACCOUNT} a SET balance = a.balance + d.delta FROM t, d "
        "WHERE a.id = d.id AND d.delta <> 0) "
        "SELECT (SELECT id FROM t), l.id, l.kind, l.currency, l.balance "
        "FROM locked l ORDER BY l.id"
    )
    params = [x for pk in ids for x in (pk, currency_of[pk], deltas[pk])]
    params += ids
    params += header
    params += [x for acc, amount in entries for x in (acc.pk, acc.currency, amount)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    txn_id = rows[0][0] if rows else None
    return txn_id, {pk: (acc_kind, code, bal) for _, pk, acc_kind, code, bal in rows}


def _lock(ids: list[int], idempotency_key: str) -> tuple[dict[int, tuple], int | None]:
    """Portable path: lock the accounts in pk order and look the key up, in
    one query. Returns ``{pk: (kind, currency, balance)}`` and the id of a
    transaction already posted under the key, if any."""
    existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).values("pk")
    rows = list(
        LedgerAccount.objects.filter(pk__in=ids)
        .order_by("pk")
        .select_for_update()
        .annotate(existing_id=Subquery(existing[:1]))
        .values_list("pk", "kind", "currency", "balance", "existing_id")
    )
    locked = {pk: (acc_kind, code, balance) for pk, acc_kind, code, balance, _ in rows}
    return locked, (rows[0][4] if rows else None)


def _write(
    *,
    header: list,
    entries: Sequence[tuple[LedgerAccount, Decimal]],
    deltas: dict[int, Decimal],
    locked: dict[int, tuple],
) -> int | None:
    """Portable path: insert the transaction unless the key exists (then
    None: a concurrent post with the same key committed first), its entries,
    and set the cached balances.

    The new balances are computed here in Python from the ``locked`` rows,
    not with ``F("balance") + delta`` in SQL: SQLite does arithmetic on REALs
    (15 significant digits), which would create or lose the 18th decimal of
    an ETH balance. Reading then writing is safe because nobody can change
    those rows in between: on PostgreSQL they are locked FOR UPDATE, and on
    SQLite the transaction holds the database's write lock from its BEGIN
    (``transaction_mode: IMMEDIATE``, see settings), so writers queue.
    """
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(_TXN)} "  # noqa: S608 (our table name)
        "(kind, idempotency_key, created_at, actor, description, reference) "
        "VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
    )
    params = list(header)
    params[2] = connection.ops.adapt_datetimefield_value(params[2])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    txn_id = row[0]
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                transaction_id=txn_id, account_id=acc.pk, currency=acc.currency, amount=amount
            )
            for acc, amount in entries
        ]
    )
    for pk in sorted(deltas):
        if deltas[pk] != 0:
            new_balance = EXACT.add(locked[pk][2], deltas[pk])
            LedgerAccount.objects.filter(pk=pk).update(balance=new_balance)
    return txn_id


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


def _post(
    *,
    kind: str,
    idempotency_key: str,
    entries: Sequence[tuple[LedgerAccount, Decimal]],
    deltas: dict[int, Decimal],
    description: str,
    actor: str,
    reference: str,
) -> LedgerTransaction:
    now = timezone.now()
    header = [kind, idempotency_key, now, actor, description, reference]
    # Nothing is written unless the posting goes through whole, so a refusal
    # leaves the caller's transaction usable (no savepoint needed).
    if fast_sql_enabled():
        txn_id, locked = _post_statement(header=header, entries=entries, deltas=deltas)
        if txn_id is None:
            # Either the key exists (a replay, or a concurrent post that
            # committed first — visible to this new statement under READ
            # COMMITTED), which wins even if the balance no longer covers the
            # posting, or the posting is refused.
            existing_id = (
                LedgerTransaction.objects.filter(idempotency_key=idempotency_key)
                .values_list("pk", flat=True)
                .first()
            )
            if existing_id is not None:
                return _replay(
                    txn_id=existing_id, idempotency_key=idempotency_key, kind=kind, deltas=deltas
                )
            _refuse(entries=entries, deltas=deltas, locked=locked)
            raise RuntimeError("ledger_post: posting neither written, replayed nor refused")
    else:
        locked, existing_id = _lock(sorted(deltas), idempotency_key)
        if existing_id is not None and len(locked) == len(deltas):
            return _replay(
                txn_id=existing_id, idempotency_key=idempotency_key, kind=kind, deltas=deltas
            )
        _refuse(entries=entries, deltas=deltas, locked=locked)
        txn_id = _write(header=header, entries=entries, deltas=deltas, locked=locked)
        if txn_id is None:  # a concurrent post with the same key committed first
            return _replay(txn_id=None, idempotency_key=idempotency_key, kind=kind, deltas=deltas)

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
    txn.replayed = False
    return txn


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
      posted; ``txn.replayed`` tells which. The same key with other entries or
      another kind raises ``IdempotencyKeyReused`` (409).
    """
    _check_header(kind, idempotency_key, description, actor, reference)
    deltas = _aggregate(entries)
    args = {
        "kind": kind,
        "idempotency_key": idempotency_key,
        "entries": entries,
        "deltas": deltas,
        "description": description,
        "actor": actor,
        "reference": reference,
    }
    if connection.in_atomic_block:
        return _post(**args)
    with transaction.atomic():
        return _post(**args)


def reserve_fund(
    *,
    currency: str,
    amount: Decimal,
    actor: str,
    idempotency_key: str | None = None,
    description: str = "",
) -> LedgerTransaction:
    """Move ``amount`` from equity into the house reserve of ``currency``.

    Without an ``idempotency_key`` every call funds again (an operator's
    command); pass one to make a repeat a no-op.
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
        txn = ledger_post(
            kind=TransactionKind.RESERVE_FUNDING,
            idempotency_key=idempotency_key or f"reserve_funding:{uuid.uuid4()}",
            entries=[(equity, -amount), (reserve, amount)],
            description=description or f"Reserve funded with {money.fmt(amount, code)}",
            actor=actor,
        )
        if not txn.replayed:
            audit_record(
                action="reserve.fund",
                actor_label=actor,
                obj=txn,
                after={"currency": code, "amount": amount},
                data={"idempotency_key": txn.idempotency_key},
            )
    return txn


def reserve_fund_demo(*, actor: str = "system:demo") -> list[tuple[str, Decimal, bool]]:
    """Fund every reserve with ``DEMO_RESERVE_AMOUNTS`` once (idempotent per
    currency). Returns ``(currency, amount, funded_now)`` per currency."""
    done = []
    for code, amount in DEMO_RESERVE_AMOUNTS.items():
        txn = reserve_fund(
            currency=code,
            amount=amount,
            actor=actor,
            idempotency_key=f"demo:reserve_funding:{code}",
            description="Demo reserve",
        )
        done.append((code, amount, not txn.replayed))
    return done


def ledger_reverse(
    *,
    transaction_id: int,
    actor: str,
    reason: str,
    idempotency_key: str | None = None,
) -> LedgerTransaction:
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
        txn = ledger_post(
            kind=TransactionKind.REVERSAL,
            idempotency_key=idempotency_key or f"reversal:{original.pk}",
            entries=[(entry.account, -entry.amount) for entry in rows],
            description=f"Reversal of #{original.pk}: {reason}"[:500],
            actor=actor,
            reference=original.reference,
        )
        if not txn.replayed:
            audit_record(
                action="ledger.reverse",
                actor_label=actor,
                obj=txn,
                data={
                    "reversed_transaction_id": original.pk,
                    "reason": reason,
                    "entries": [{"account_id": e.account_id, "amount": -e.amount} for e in rows],
                },
            )
    return txn

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
from django.db.models import Case, DecimalField, F, Subquery, Value, When
from django.utils import timezone

from dtexchange.errors import InvalidInput
from trading import money
from trading.errors import IdempotencyKeyReused, InsufficientBalance, InvalidPosting
from trading.models.ledger import (
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
_BALANCE_FIELD = DecimalField(max_digits=money.MAX_DIGITS, decimal_places=money.DECIMAL_PLACES)

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


# PostgreSQL gets hand-written SQL (two statements per posting, see below);
# other databases (SQLite for `make run`) the equivalent ORM calls. Tests run
# the portable path on PostgreSQL too by switching this off.
FAST_SQL = True

_ACCOUNT = LedgerAccount._meta.db_table
_TXN = LedgerTransaction._meta.db_table
_ENTRY = LedgerEntry._meta.db_table


def _fast_sql() -> bool:
    return FAST_SQL and connection.vendor == "postgresql"


def _lock(ids: list[int], idempotency_key: str) -> tuple[dict[int, tuple], int | None]:
    """Lock the accounts in pk order (the one global lock order, so two
    postings never deadlock) and look the key up, in one query.

    Returns ``{pk: (kind, currency, balance)}`` and the id of a transaction
    already posted under the key (as of this statement's snapshot), if any.
    """
    if _fast_sql():
        marks = ", ".join(["%s"] * len(ids))
        sql = (
            f"SELECT a.id, a.kind, a.currency, a.balance, "  # noqa: S608 (our table names)
            f"(SELECT t.id FROM {_TXN} t WHERE t.idempotency_key = %s) "
            f"FROM {_ACCOUNT} a WHERE a.id IN ({marks}) ORDER BY a.id FOR UPDATE OF a"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [idempotency_key, *ids])
            rows = cursor.fetchall()
    else:
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
    kind: str,
    idempotency_key: str,
    created_at,
    actor: str,
    description: str,
    reference: str,
    entries: Sequence[tuple[LedgerAccount, Decimal]],
    deltas: dict[int, Decimal],
) -> int | None:
    """Insert the transaction, its entries and move the cached balances,
    unless the key exists. Returns the new transaction's id, or None when a
    concurrent post with the same key committed first.

    ``ON CONFLICT DO NOTHING`` settles a race on the key without an error and
    without a savepoint: the loser waits on the unique index for the winner's
    commit and gets no row back, and then writes nothing else.
    """
    changed = [(pk, d) for pk, d in deltas.items() if d != 0]
    header = [kind, idempotency_key, created_at, actor, description, reference]
    if _fast_sql():
        # One statement: the entries and balance updates join the inserted
        # transaction row, so on a key conflict they write nothing.
        entry_rows = ", ".join(["(%s::bigint, %s::varchar, %s::numeric)"] * len(entries))
        update_rows = ", ".join(["(%s::bigint, %s::numeric)"] * len(changed))
        sql = (
            f"WITH t AS (INSERT INTO {_TXN} "  # noqa: S608 (our table names)
            "(kind, idempotency_key, created_at, actor, description, reference) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id), "
            f"e AS (INSERT INTO {_ENTRY} (transaction_id, account_id, currency, amount) "
            f"SELECT t.id, v.account_id, v.currency, v.amount FROM t, (VALUES {entry_rows}) "
            "AS v(account_id, currency, amount))"
        )
        params = header + [x for acc, amount in entries for x in (acc.pk, acc.currency, amount)]
        if changed:
            sql += (
                f", u AS (UPDATE {_ACCOUNT} a SET balance = a.balance + v.delta "  # noqa: S608
                f"FROM t, (VALUES {update_rows}) AS v(id, delta) WHERE a.id = v.id)"
            )
            params += [x for pair in changed for x in pair]
        sql += " SELECT id FROM t"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return row[0] if row else None

    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(_TXN)} "  # noqa: S608 (our table name)
        "(kind, idempotency_key, created_at, actor, description, reference) "
        "VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
    )
    header[2] = connection.ops.adapt_datetimefield_value(created_at)
    with connection.cursor() as cursor:
        cursor.execute(sql, header)
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
    if changed:
        LedgerAccount.objects.filter(pk__in=[pk for pk, _ in changed]).update(
            balance=F("balance")
            + Case(
                *[When(pk=pk, then=Value(d, output_field=_BALANCE_FIELD)) for pk, d in changed],
                output_field=_BALANCE_FIELD,
            )
        )
    return txn_id


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
    ids = sorted(deltas)
    locked, existing_id = _lock(ids, idempotency_key)
    if len(locked) != len(ids):
        raise InvalidPosting(
            "Unknown ledger account.", details={"account_ids": sorted(set(ids) - set(locked))}
        )
    if existing_id is not None:
        return _replay(
            txn_id=existing_id, idempotency_key=idempotency_key, kind=kind, deltas=deltas
        )

    for account, _amount in entries:
        if locked[account.pk][1] != account.currency:
            raise InvalidPosting("An entry's currency differs from its account's.")
    # Nothing is written before this point, so a refusal leaves the caller's
    # transaction usable (no savepoint needed).
    for pk in ids:
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

    now = timezone.now()
    txn_id = _write(
        kind=kind,
        idempotency_key=idempotency_key,
        created_at=now,
        actor=actor,
        description=description,
        reference=reference,
        entries=entries,
        deltas=deltas,
    )
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
    return ledger_post(
        kind=TransactionKind.RESERVE_FUNDING,
        idempotency_key=idempotency_key or f"reserve_funding:{uuid.uuid4()}",
        entries=[(equity, -amount), (reserve, amount)],
        description=description or f"Reserve funded with {money.fmt(amount, code)}",
        actor=actor,
    )


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

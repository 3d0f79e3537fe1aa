"""The ledger's hand-written SQL, used only by ``ledger.services``:

* ``post`` (``post_send`` + ``post_read``): the posting statement, used
  only by ``ledger_post`` and ``ledger_post_send``;
* ``accounts_find``: the accounts a trade posts to, in one plain statement,
  used only by ``accounts_get_or_create`` (building the same filter with the
  ORM cost more CPU than any other part of a trade request).

The posting:

A posting is the hottest write of the exchange (every trade makes one), so it
is ONE statement, one round trip:

1. ``locked``: ``SELECT … FOR UPDATE`` the accounts in pk order (the one global
   lock order, so postings never deadlock). Under READ COMMITTED a row another
   transaction changed is waited for and returned as committed.
2. ``ok``: every account exists, has the entry's currency, and no wallet or
   reserve would go below zero — judged on those locked rows.
3. ``t``: only if ok, INSERT the transaction; ``ON CONFLICT DO NOTHING`` on the
   key makes a replay, or the loser of a race (which waits on the unique index
   for the winner's commit), insert nothing.
4. ``e``/``u``: the entries and the balance updates join ``t``, so they write
   nothing unless the transaction row was written. The UPDATE sees the rows
   locked in 1 (same statement: it re-reads the latest version).

The statement returns the new transaction's id (NULL if nothing was written)
on every row, and the locked rows themselves, so the caller can explain a
refusal without another query.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from ledger.models import NON_NEGATIVE_KINDS, LedgerAccount, LedgerEntry, LedgerTransaction

_ACCOUNT = LedgerAccount._meta.db_table
_TXN = LedgerTransaction._meta.db_table
_ENTRY = LedgerEntry._meta.db_table
_NON_NEGATIVE = ", ".join(f"'{kind}'" for kind in NON_NEGATIVE_KINDS)


def _posting_sql(accounts: int, entries: int) -> str:
    """The statement's text for ``accounts`` distinct accounts and ``entries``
    entries (the text depends only on those counts, so psycopg prepares each
    shape once per connection)."""
    delta_rows = ", ".join(["(%s::bigint, %s::varchar, %s::numeric)"] * accounts)
    entry_rows = ", ".join(["(%s::bigint, %s::varchar, %s::numeric)"] * entries)
    id_marks = ", ".join(["%s"] * accounts)
    return (
        f"WITH d(id, currency, delta) AS (VALUES {delta_rows}), "  # noqa: S608 (our tables)
        f"locked AS (SELECT a.id, a.kind, a.currency, a.balance FROM {_ACCOUNT} a "
        f"WHERE a.id IN ({id_marks}) ORDER BY a.id FOR UPDATE), "
        f"ok AS (SELECT count(*) = {accounts} AND coalesce(bool_and("
        "l.currency = d.currency AND NOT ("
        f"l.kind IN ({_NON_NEGATIVE}) AND l.balance + d.delta < 0)), false) AS ok "
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


def post_send(
    cursor,
    *,
    header: list,
    entries: list[tuple[int, str, Decimal]],
    deltas: dict[int, tuple[str, Decimal]],
) -> None:
    """Send the posting statement on ``cursor``; ``post_read(cursor)`` gives
    its result. Split so a caller can send it in the round trip of its own
    writes (a psycopg pipeline, inside its transaction).

    * ``header``: kind, idempotency_key, created_at, actor, description, reference.
    * ``entries``: ``(account_id, currency, amount)`` rows, as given.
    * ``deltas``: ``{account_id: (currency, net amount)}``.
    """
    ids = sorted(deltas)
    params: list = [x for pk in ids for x in (pk, *deltas[pk])]
    params += ids
    params += header
    params += [x for row in entries for x in row]
    cursor.execute(_posting_sql(len(ids), len(entries)), params)


def post_read(cursor) -> tuple[int | None, dict[int, tuple[str, str, Decimal]]]:
    """The new transaction's id (None if nothing was written) and the locked
    rows ``{account_id: (kind, currency, balance)}`` of the posting sent on
    ``cursor``."""
    rows = cursor.fetchall()
    txn_id = rows[0][0] if rows else None
    return txn_id, {pk: (kind, code, balance) for _, pk, kind, code, balance in rows}


def post(
    *,
    header: list,
    entries: list[tuple[int, str, Decimal]],
    deltas: dict[int, tuple[str, Decimal]],
) -> tuple[int | None, dict[int, tuple[str, str, Decimal]]]:
    """``post_send`` then ``post_read``, on a cursor of its own."""
    with connection.cursor() as cursor:
        post_send(cursor, header=header, entries=entries, deltas=deltas)
        return post_read(cursor)


ACCOUNTS_FIND = (
    f"SELECT id, owner_id, currency, kind FROM {_ACCOUNT} "  # noqa: S608 (our table)
    "WHERE (owner_id = ANY(%s) AND kind = ANY(%s) AND currency = ANY(%s)) "
    "OR (owner_id IS NULL AND kind = ANY(%s) AND currency = ANY(%s))"
)
# In the model's field order: Model.from_db assigns the values in that order.
_ACCOUNT_FIELDS = ["id", "owner_id", "currency", "kind"]


def accounts_find(
    *,
    owner_ids: list[int],
    owner_kinds: list[str],
    owner_currencies: list[str],
    house_kinds: list[str],
    house_currencies: list[str],
) -> list[LedgerAccount]:
    """Users' accounts of the given kinds and currencies, and house accounts
    (no owner) of the given kinds and currencies (a superset of what the
    caller wants: it picks). The instances carry id, owner, currency and kind;
    ``balance`` is read from the database if asked."""
    with connection.cursor() as cursor:
        cursor.execute(
            ACCOUNTS_FIND,
            [owner_ids, owner_kinds, owner_currencies, house_kinds, house_currencies],
        )
        return [
            LedgerAccount.from_db(connection.alias, _ACCOUNT_FIELDS, row)
            for row in cursor.fetchall()
        ]

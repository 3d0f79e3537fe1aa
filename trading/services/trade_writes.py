"""The one place a trade row is written (INSERT): ``trade_insert``.

A trade is inserted once, in the state the request that opens it leaves it
in: ``completed`` when its payment method settles at once from what the user
holds here (``balance``, ``crypto``, a sale into the fiat wallet), else
``pending``; later changes are compare-and-set UPDATEs
(``trades.common.transition``). With the row go its history rows, its
outbox events and, for a trade that completes at once, its ledger posting, in
ONE round trip: trading's statement (``trading.sql``), the outbox's
(``notifications.sql``) and the ledger's (``ledger.sql``) are sent together
in a psycopg pipeline, inside the caller's transaction.
"""

from __future__ import annotations

from django.db import connection

from ledger.services import PostResult
from notifications.services import outbox_emit_many
from trading import sql
from trading.models.trades import Trade, TradeStatusChange
from trading.services.trades.common import trade_post_send


def trade_insert(
    trade: Trade,
    *,
    history: list[TradeStatusChange],
    events: list[dict],
    posting: dict | None = None,
) -> PostResult | None:
    """INSERT ``trade`` (unsaved), its ``history`` rows (unsaved, their
    ``trade`` unset) and ``events`` (``outbox_emit_many`` shape); sets
    ``trade.pk``. A duplicate Idempotency-Key raises IntegrityError.

    ``posting`` (``trade_post``'s arguments): the trade's ledger posting, in
    the same round trip after the rows (so the house accounts it locks stay
    locked only for the posting and the commit); returns its PostResult. A
    refused posting raises as ``trade_post`` does, after the rows were
    sent: the caller's transaction must roll back (``trade_open`` does)."""
    with connection.cursor() as cursor, connection.cursor() as posting_cursor:
        # Errors surface when the pipeline syncs: as Django's own exceptions.
        with connection.wrap_database_errors, connection.connection.pipeline():
            sql.trade_insert_send(cursor, trade=trade, history=history)
            outbox_emit_many(events=events)
            posted = trade_post_send(posting_cursor, **posting) if posting else None
        (trade.pk,) = cursor.fetchone()
        trade._state.adding = False
        trade._state.db = connection.alias
        return posted() if posted else None

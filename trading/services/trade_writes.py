"""The one place a trade row is written (INSERT): ``trade_insert``.

A trade is inserted once, in the state the request that opens it leaves it
in: ``completed`` when its payment method settles at once from what the user
holds here (``balance``, ``crypto``, a sale into the fiat wallet), else
``pending``; later changes are compare-and-set UPDATEs
(``trades.common.transition``). With the row go its history rows and its
outbox events, in ONE round trip: trading's statement (``trading.sql``) and
the outbox's own (``notifications.sql``) are sent together in a psycopg
pipeline, inside the caller's transaction.
"""

from __future__ import annotations

from django.db import connection

from notifications.services import outbox_emit_many
from trading import sql
from trading.models.trades import Trade, TradeStatusChange


def trade_insert(trade: Trade, *, history: list[TradeStatusChange], events: list[dict]) -> None:
    """INSERT ``trade`` (unsaved), its ``history`` rows (unsaved, their
    ``trade`` unset) and ``events`` (``outbox_emit_many`` shape); sets
    ``trade.pk``. A duplicate Idempotency-Key raises IntegrityError."""
    with connection.cursor() as cursor:
        # Errors surface when the pipeline syncs: as Django's own exceptions.
        with connection.wrap_database_errors, connection.connection.pipeline():
            sql.trade_insert_send(cursor, trade=trade, history=history)
            outbox_emit_many(events=events)
        (trade.pk,) = cursor.fetchone()
    trade._state.adding = False
    trade._state.db = connection.alias

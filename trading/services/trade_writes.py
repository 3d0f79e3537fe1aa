"""Writing a trade that settles in the request that opens it (``balance`` and
``crypto``: the API's busiest path) in one round trip.

Such a trade is never visible as ``pending``: it is inserted already
completed, with both history rows (created, completed) and its outbox events,
and then the ledger posts. On PostgreSQL the trade, its history, its events
and their deliveries are ONE statement (common table expressions, like the
ledger's posting); elsewhere (SQLite for ``make run``) the same rows through
the ORM. ``trading.services.ledger.FAST_SQL`` switches both, so the tests run
the portable path on PostgreSQL too.
"""

from __future__ import annotations

from django.db import connection

from notifications.services import outbox_emit_many, outbox_emitted, outbox_insert_ctes
from trading.models.trades import Trade, TradeStatusChange
from trading.services import ledger

_TRADE = Trade._meta.db_table
_HISTORY = TradeStatusChange._meta.db_table
# Every column but the id, in model order (computed once: the model is fixed).
_TRADE_FIELDS = [f for f in Trade._meta.concrete_fields if not f.primary_key]
_TRADE_COLUMNS = ", ".join(connection.ops.quote_name(f.column) for f in _TRADE_FIELDS)


def trade_insert_settled(
    trade: Trade, *, history: list[TradeStatusChange], events: list[dict]
) -> None:
    """INSERT ``trade`` (unsaved, in its final state), its ``history`` rows
    (unsaved, their ``trade`` unset) and ``events`` (``outbox_emit_many``
    shape); sets ``trade.pk``."""
    if ledger._fast_sql():
        _insert_statement(trade, history=history, events=events)
    else:
        trade.save(force_insert=True)
        for change in history:
            change.trade = trade
        TradeStatusChange.objects.bulk_create(history)
        outbox_emit_many(events=events)
    trade._state.adding = False
    trade._state.db = connection.alias


def _insert_statement(
    trade: Trade, *, history: list[TradeStatusChange], events: list[dict]
) -> None:
    values = [f.get_db_prep_save(f.pre_save(trade, True), connection) for f in _TRADE_FIELDS]
    history_rows = ", ".join(["(%s, %s, %s, %s, %s::timestamptz)"] * len(history))
    history_params = [
        x for h in history for x in (h.from_status, h.to_status, h.actor, h.reason, h.at)
    ]
    outbox_sql, outbox_params, has_deliveries = outbox_insert_ctes(events=events)
    sql = (
        f"WITH t AS (INSERT INTO {_TRADE} ({_TRADE_COLUMNS}) "  # noqa: S608 (our tables)
        f"VALUES ({', '.join(['%s'] * len(values))}) RETURNING id), "
        f"h AS (INSERT INTO {_HISTORY} (trade_id, from_status, to_status, actor, reason, at) "
        f"SELECT t.id, v.* FROM t, (VALUES {history_rows}) AS v), "
        f"{outbox_sql} "
        "SELECT id FROM t"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *history_params, *outbox_params])
        trade.pk = cursor.fetchone()[0]
    outbox_emitted(has_deliveries=has_deliveries)

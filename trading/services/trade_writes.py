"""Writing a trade that settles in the request that opens it (``balance`` and
``crypto``: the API's busiest path) in one round trip.

Such a trade is never visible as ``pending``: it is inserted already
completed, with both history rows (created, completed) and its outbox events,
and then the ledger posts. On PostgreSQL the trade, its history, its events
and their deliveries are ONE statement (common table expressions, like the
ledger's posting); elsewhere (SQLite for ``make run``) the same rows through
the ORM. ``ledger.services.FAST_SQL`` switches both, so the tests run
the portable path on PostgreSQL too.

The rows travel as JSON parameters (``jsonb_populate_record``): the
statement's text never changes, so psycopg parses it once per process, and
three parameters cost less to send than the thirty-odd columns.
"""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

from django.db import connection

from ledger.services import fast_sql_enabled
from notifications.services import outbox_emit_many, outbox_emitted, outbox_insert_ctes
from trading.models.trades import Trade, TradeStatusChange

_TRADE = Trade._meta.db_table
_HISTORY = TradeStatusChange._meta.db_table
# Every column but the id, in model order (computed once: the model is fixed).
_TRADE_FIELDS = [f for f in Trade._meta.concrete_fields if not f.primary_key]
_TRADE_COLUMNS = ", ".join(f.column for f in _TRADE_FIELDS)
_HISTORY_COLUMNS = "from_status, to_status, actor, reason, at"


def trade_insert_settled(
    trade: Trade, *, history: list[TradeStatusChange], events: list[dict]
) -> None:
    """INSERT ``trade`` (unsaved, in its final state), its ``history`` rows
    (unsaved, their ``trade`` unset) and ``events`` (``outbox_emit_many``
    shape); sets ``trade.pk``."""
    if fast_sql_enabled():
        _insert_statement(trade, history=history, events=events)
    else:
        trade.save(force_insert=True)
        for change in history:
            change.trade = trade
        TradeStatusChange.objects.bulk_create(history)
        outbox_emit_many(events=events)
    trade._state.adding = False
    trade._state.db = connection.alias


def _json_default(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _insert_statement(
    trade: Trade, *, history: list[TradeStatusChange], events: list[dict]
) -> None:
    row = {f.column: getattr(trade, f.attname) for f in _TRADE_FIELDS}
    changes = [
        {
            "from_status": h.from_status,
            "to_status": h.to_status,
            "actor": h.actor,
            "reason": h.reason,
            "at": h.at,
        }
        for h in history
    ]
    outbox_sql, outbox_params, has_deliveries = outbox_insert_ctes(events=events)
    sql = (
        f"WITH t AS (INSERT INTO {_TRADE} ({_TRADE_COLUMNS}) "  # noqa: S608 (our tables)
        f"SELECT {_TRADE_COLUMNS} FROM jsonb_populate_record(NULL::{_TRADE}, %s::jsonb) "
        "RETURNING id), "
        f"h AS (INSERT INTO {_HISTORY} (trade_id, {_HISTORY_COLUMNS}) "
        f"SELECT t.id, {_HISTORY_COLUMNS} FROM t, "
        f"jsonb_populate_recordset(NULL::{_HISTORY}, %s::jsonb)), "
        f"{outbox_sql} "
        "SELECT id FROM t"
    )
    params = [
        json.dumps(row, default=_json_default),
        json.dumps(changes, default=_json_default),
        *outbox_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        trade.pk = cursor.fetchone()[0]
    outbox_emitted(has_deliveries=has_deliveries)

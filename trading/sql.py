"""trading's hand-written SQL: a trade and its history rows in ONE
statement, used only by ``trading.services.trade_writes.trade_insert``.

The rows travel as JSON parameters (``jsonb_populate_record``): the
statement's text never changes, so psycopg prepares it once per connection,
and two parameters cost less to send than the thirty-odd columns.
"""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal

from trading.models.trades import Trade, TradeStatusChange

_TRADE = Trade._meta.db_table
_HISTORY = TradeStatusChange._meta.db_table
# Every column but the id, in model order (computed once: the model is fixed).
_TRADE_FIELDS = [f for f in Trade._meta.concrete_fields if not f.primary_key]
_TRADE_COLUMNS = ", ".join(f.column for f in _TRADE_FIELDS)
_HISTORY_COLUMNS = "from_status, to_status, actor, reason, at"

TRADE_INSERT = (
    f"WITH t AS (INSERT INTO {_TRADE} ({_TRADE_COLUMNS}) "  # noqa: S608 (our tables)
    f"SELECT {_TRADE_COLUMNS} FROM jsonb_populate_record(NULL::{_TRADE}, %s::jsonb) "
    "RETURNING id), "
    f"h AS (INSERT INTO {_HISTORY} (trade_id, {_HISTORY_COLUMNS}) "
    f"SELECT t.id, {_HISTORY_COLUMNS} FROM t, "
    f"jsonb_populate_recordset(NULL::{_HISTORY}, %s::jsonb)) "
    "SELECT id FROM t"
)


def _json_default(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def trade_insert_send(cursor, *, trade: Trade, history: list[TradeStatusChange]) -> None:
    """Send the INSERT of ``trade`` (unsaved) and its ``history`` rows (their
    ``trade`` unset) on ``cursor``; ``cursor.fetchone()[0]`` is then the new
    trade's id. Split from the fetch so the caller can send other apps'
    statements in the same round trip (psycopg pipeline)."""
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
    cursor.execute(
        TRADE_INSERT,
        [json.dumps(row, default=_json_default), json.dumps(changes, default=_json_default)],
    )

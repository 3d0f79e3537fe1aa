"""The outbox's hand-written SQL, used only by ``notifications.services``.

``EMIT``: events and their delivery rows in ONE statement. The events travel
as one JSON parameter, so the statement's text is the same for any number of
events (psycopg prepares it once per connection). Event ids come from the
table's sequence in a materialised CTE, in the order given, so each delivery
row names its event without relying on RETURNING's order.
"""

from __future__ import annotations

import datetime
import json

from notifications.models import OutboxDelivery, OutboxEvent

_EVENT = OutboxEvent._meta.db_table
_DELIVERY = OutboxDelivery._meta.db_table

EMIT = (
    "WITH e AS MATERIALIZED ("  # noqa: S608 (our tables; every value is a parameter)
    f"SELECT nextval(pg_get_serial_sequence('{_EVENT}', 'id')) AS id, r.* FROM ("
    "SELECT x.ord, x.value->>'kind' AS kind, (x.value->>'user_id')::bigint AS user_id, "
    "x.value->'payload' AS payload, (x.value->>'settled')::timestamptz AS settled, "
    "x.value->'destinations' AS destinations "
    "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS x(value, ord) ORDER BY x.ord"
    ") r), "
    f"ins AS (INSERT INTO {_EVENT} "
    "(id, kind, user_id, payload, created_at, delivered_at, attempts, last_error) "
    "SELECT id, kind, user_id, payload, %s, settled, 0, '' FROM e), "
    f"d AS (INSERT INTO {_DELIVERY} "
    "(event_id, destination, status, attempts, next_attempt_at, delivered_at, last_error) "
    "SELECT e.id, t.destination, 'pending', 0, %s, NULL, '' FROM e, "
    "jsonb_array_elements_text(e.destinations) AS t(destination)) "
    "SELECT id FROM e ORDER BY ord"
)


def emit_send(cursor, *, rows: list[dict], now: datetime.datetime) -> None:
    """Send the INSERT of the events ``rows`` (``kind``, ``user_id``,
    ``payload``, ``settled``: an ISO time or None, ``destinations``: a list)
    and one pending delivery per destination on ``cursor``; its rows are then
    the events' ids, in order. Split from the fetch so that, inside a psycopg
    pipeline, the statement shares the round trip of the caller's own."""
    cursor.execute(EMIT, [json.dumps(rows), now, now])

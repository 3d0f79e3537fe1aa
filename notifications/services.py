"""The outbox: other apps record domain events here, inside their own
transaction. notifications imports no other app; it knows event kinds and
payloads only."""

from typing import Any

from django.db import transaction

from notifications.models import OutboxEvent


def outbox_emit(*, kind: str, payload: dict[str, Any], user_id: int | None = None) -> OutboxEvent:
    """Record an event in the caller's transaction; it is delivered after commit.

    ``payload`` must be JSON-safe (decimals as strings). ``user_id`` None means
    a public event (prices, announcements, activity).
    """
    event = OutboxEvent.objects.create(kind=kind, payload=payload, user_id=user_id)
    transaction.on_commit(_dispatch_soon)
    return event


def outbox_emit_many(*, events: list[dict[str, Any]]) -> list[OutboxEvent]:
    """Record several events (each ``{kind, payload, user_id?}``, as for
    ``outbox_emit``) with one INSERT, in the given order; for a state change
    that emits more than one event on a busy path (a completed trade)."""
    rows = OutboxEvent.objects.bulk_create(
        OutboxEvent(kind=e["kind"], payload=e["payload"], user_id=e.get("user_id")) for e in events
    )
    transaction.on_commit(_dispatch_soon)
    return rows


def _dispatch_soon() -> None:
    """Hook for the dispatcher (delivery is built on top of this module)."""

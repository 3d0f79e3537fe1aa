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


def _dispatch_soon() -> None:
    """Hook for the dispatcher (delivery is built on top of this module)."""

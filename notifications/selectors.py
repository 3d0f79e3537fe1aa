"""Reads of the outbox (for operators: metrics, alerts)."""

from datetime import datetime

from django.db.models import Count

from notifications.models import OutboxDelivery, OutboxEvent


def outbox_pending_counts() -> dict[str, int]:
    """Deliveries waiting, per destination (every destination, 0 when none).
    Counted on the partial index of pending deliveries."""
    counts = dict.fromkeys(OutboxDelivery.Destination.values, 0)
    rows = (
        OutboxDelivery.objects.filter(status=OutboxDelivery.Status.PENDING)
        .values_list("destination")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts.update(dict(rows))
    return counts


def outbox_oldest_pending_at() -> datetime | None:
    """When the oldest event not yet delivered was written (ids grow with
    time: the partial index of undelivered events gives it at once)."""
    return (
        OutboxEvent.objects.filter(delivered_at__isnull=True)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )

"""The outbox: other apps record domain events here, inside their own
transaction. notifications imports no other app; it knows event kinds and
payloads only."""

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications import routing
from notifications.models import Announcement, OutboxDelivery, OutboxEvent

logger = logging.getLogger(__name__)


def outbox_emit(*, kind: str, payload: dict[str, Any], user_id: int | None = None) -> OutboxEvent:
    """Record an event in the caller's transaction; it is delivered after commit.

    ``payload`` must be JSON-safe (decimals as strings). ``user_id`` None means
    a public event (prices, announcements, activity). One delivery row per
    destination is written with the event, so a rolled-back change leaves
    neither, and a committed one is found by the sweep even if the on-commit
    trigger is lost (worker or broker down).
    """
    return outbox_emit_many(events=[{"kind": kind, "payload": payload, "user_id": user_id}])[0]


def outbox_emit_many(*, events: list[dict[str, Any]]) -> list[OutboxEvent]:
    """``outbox_emit`` for several events (each ``{kind, payload, user_id?}``),
    in the given order, with one INSERT for the events and one for their
    deliveries: a completed trade emits two events on the API's busiest path."""
    now = timezone.now()
    routed = []
    for args in events:
        kind, payload, user_id = args["kind"], args["payload"], args.get("user_id")
        destinations = routing.destinations_for(kind=kind, user_id=user_id, payload=payload)
        event = OutboxEvent(
            kind=kind,
            payload=payload,
            user_id=user_id,
            # An event nobody listens to is settled at once, so the sweep skips it.
            delivered_at=None if destinations else now,
        )
        routed.append((event, destinations))
    OutboxEvent.objects.bulk_create(event for event, _ in routed)
    deliveries = []
    for event, destinations in routed:
        if not destinations:
            logger.warning("outbox event %s of kind %r has no destination", event.pk, event.kind)
        deliveries += (
            OutboxDelivery(event=event, destination=d, next_attempt_at=now) for d in destinations
        )
    if deliveries:
        OutboxDelivery.objects.bulk_create(deliveries)
        if settings.OUTBOX_DISPATCH_ON_COMMIT:
            _dispatch_on_commit()
    return [event for event, _ in routed]


def _dispatch_on_commit() -> None:
    # One trigger per transaction is enough: the dispatcher drains everything due.
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(
        func is _dispatch_soon for _sids, func, _robust in connection.run_on_commit
    ):
        return
    # robust: a failing trigger (broker down) must never break the caller's
    # commit path; the periodic sweep delivers what the trigger missed.
    transaction.on_commit(_dispatch_soon, robust=True)


# When this process last queued a dispatcher (time.monotonic()).
_last_kick = float("-inf")


def _dispatch_soon() -> None:
    """After a commit that emitted events: wake the in-process live drainer
    (embedded default) and queue the Celery dispatcher.

    Coalesced per process: a dispatcher queued less than
    OUTBOX_KICK_COALESCE_SECONDS ago keeps polling the outbox until that long
    after its kick (tasks.outbox_dispatch), so it will see this commit's
    events; queueing another would cost a broker publish (≈ 1 ms of CPU, ~10 %
    of a trade request) per commit for nothing. If that dispatcher never runs
    (worker down), the periodic sweep delivers, as for a lost trigger."""
    global _last_kick
    from notifications import live, tasks  # tasks imports this module

    live.wake()
    now = time.monotonic()
    # Eager Celery (tests) runs the dispatcher inline and once: nothing polls.
    window = 0 if settings.CELERY_TASK_ALWAYS_EAGER else settings.OUTBOX_KICK_COALESCE_SECONDS
    if window > 0 and now - _last_kick < window:
        return
    try:
        tasks.outbox_dispatch.delay(kicked_at=time.time())
    except Exception:  # broker down: only a delay, the sweep picks the events up
        logger.warning("could not queue outbox dispatch; the sweep will deliver", exc_info=True)
        return
    _last_kick = now


def announcement_post(
    *, body: str, title: str = "", level: str = Announcement.Level.INFO, created_by=None
) -> Announcement:
    """Save an announcement and publish it to every connected socket."""
    with transaction.atomic():
        announcement = Announcement.objects.create(
            title=title.strip(), body=body.strip(), level=level, created_by=created_by
        )
        announcement_publish(announcement=announcement)
    return announcement


def announcement_publish(*, announcement: Announcement) -> OutboxEvent:
    return outbox_emit(
        kind="announcement",
        payload={
            "id": announcement.pk,
            "title": announcement.title,
            "body": announcement.body,
            "level": announcement.level,
            "at": announcement.created_at.isoformat(),
        },
    )

"""The outbox: other apps record domain events here, inside their own
transaction. notifications imports no other app; it knows event kinds and
payloads only."""

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from notifications import routing, sql
from notifications.models import Announcement, OutboxEvent

logger = logging.getLogger(__name__)


def outbox_emit(*, kind: str, payload: dict[str, Any], user_id: int | None = None) -> OutboxEvent:
    """Record an event in the caller's transaction; it is delivered after commit.

    ``payload`` must be JSON-safe (decimals as strings). ``user_id`` None means
    a public event (prices, announcements, activity). One delivery row per
    destination is written with the event, in the same statement, so a
    rolled-back change leaves neither, and a committed one is found by the
    sweep even if the on-commit trigger is lost (worker or broker down).
    """
    now = timezone.now()
    with connection.cursor() as cursor:
        (destinations,) = _send(
            cursor, [{"kind": kind, "payload": payload, "user_id": user_id}], now
        )
        (pk,) = cursor.fetchone()
    event = OutboxEvent(
        pk=pk,
        kind=kind,
        payload=payload,
        user_id=user_id,
        created_at=now,
        delivered_at=None if destinations else now,
    )
    event._state.adding = False
    event._state.db = connection.alias
    return event


def outbox_emit_many(*, events: list[dict[str, Any]]) -> None:
    """``outbox_emit`` for several events (each ``{kind, payload, user_id?}``),
    in the given order, in one statement. Reads nothing back, so inside the
    caller's psycopg pipeline (``trading.services.trade_writes``) it shares
    the caller's round trip."""
    if not events:
        return
    with connection.cursor() as cursor:
        _send(cursor, events, timezone.now())


def _send(cursor, events: list[dict[str, Any]], now) -> list[list[str]]:
    routed = _route(events)
    sql.emit_send(
        cursor,
        rows=[
            {
                "kind": kind,
                "user_id": user_id,
                "payload": payload,
                # An event nobody listens to is settled at once, so the sweep skips it.
                "settled": None if destinations else now.isoformat(),
                "destinations": destinations,
            }
            for kind, payload, user_id, destinations in routed
        ],
        now=now,
    )
    if settings.OUTBOX_DISPATCH_ON_COMMIT and any(d for *_, d in routed):
        # Trigger the dispatcher when the caller's transaction commits.
        _dispatch_on_commit()
    return [destinations for *_, destinations in routed]


def _route(events: list[dict[str, Any]]) -> list[tuple[str, dict, int | None, list[str]]]:
    routed = []
    for args in events:
        kind, payload, user_id = args["kind"], args["payload"], args.get("user_id")
        destinations = routing.destinations_for(kind=kind, user_id=user_id, payload=payload)
        if not destinations:
            logger.warning("outbox event of kind %r has no destination", kind)
        routed.append((kind, payload, user_id, destinations))
    return routed


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
    """After a commit that emitted events: queue the Celery dispatcher.

    Coalesced: a dispatcher queued less than OUTBOX_KICK_COALESCE_SECONDS ago
    keeps polling the outbox until that long after its kick
    (tasks.outbox_dispatch), so it will see this commit's events; queueing
    another would cost a broker publish (≈ 1 ms of CPU, ~10 % of a trade
    request) per commit and keep the worker busy polling. First per process
    (no I/O), then across processes through the cache (one Redis SET NX) when
    it can. If that dispatcher never runs (worker down), the periodic sweep
    delivers, as for a lost trigger."""
    global _last_kick
    from notifications import tasks  # tasks imports this module

    now = time.monotonic()
    # Eager Celery (tests) runs the dispatcher inline and once: nothing polls.
    window = 0 if settings.CELERY_TASK_ALWAYS_EAGER else settings.OUTBOX_KICK_COALESCE_SECONDS
    if window > 0:
        if now - _last_kick < window:
            return
        taken, left = _take_kick(window)
        if not taken:
            # Another process's dispatcher covers this window: it polls until
            # after the claim runs out, so skip exactly until then (counting
            # from our own time would outlast its window).
            _last_kick = now - (window - left)
            return
    try:
        tasks.outbox_dispatch.delay(kicked_at=time.time())
    except Exception:  # broker down: only a delay, the sweep picks the events up
        logger.warning("could not queue outbox dispatch; the sweep will deliver", exc_info=True)
        return
    _last_kick = now


def _take_kick(window: float) -> tuple[bool, float]:
    """(whether this process queues the dispatcher of the current window,
    seconds left of the window), for all processes through Redis."""
    try:
        return cache.claim_for(KICK_KEY, window)
    except Exception:  # cache down: kick anyway, a duplicate dispatcher is harmless
        logger.warning("outbox kick: cache unavailable", exc_info=True)
        return True, window


KICK_KEY = "outbox:kick"


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

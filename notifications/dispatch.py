"""The outbox dispatcher: delivers committed events to their destinations.

Claiming: pending, due delivery rows are locked with ``SELECT … FOR UPDATE
SKIP LOCKED`` and stay locked while they are sent and marked delivered, so two
dispatchers running at once (two workers, a retried task, the sweep) never
send the same row; the second one skips it and then finds it delivered.
A send that fails records the error and a next attempt time with exponential
backoff; after OUTBOX_MAX_ATTEMPTS the row is given up (``failed``) and stays
visible in the admin.

Live delivery has one path in every profile: the worker publishes due live
deliveries once on the Redis channel layer, and each Daphne process fans
public events out to its own sockets (``notifications.fanout``).
"""

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from notifications import emails, routing
from notifications.models import OutboxDelivery, OutboxEvent

logger = logging.getLogger(__name__)

LIVE = OutboxDelivery.Destination.LIVE
EMAIL = OutboxDelivery.Destination.EMAIL
PENDING = OutboxDelivery.Status.PENDING
SETTLED = (OutboxDelivery.Status.DELIVERED, OutboxDelivery.Status.EXPIRED)


def retry_delay(attempts: int) -> timedelta:
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))


def live_message(event: OutboxEvent) -> tuple[str, dict[str, Any]] | None:
    """(group, channel-layer message) for an event. The JSON the client gets is
    encoded once here, not once per socket (fan-out to thousands of sockets)."""
    target = routing.live_target(kind=event.kind, user_id=event.user_id)
    if target is None:
        return None
    group, message_type = target
    text = json.dumps(
        {"type": message_type, "event_id": event.pk, "data": event.payload},
        separators=(",", ":"),
    )
    return group, {"type": message_type, "text": text, "user_id": event.user_id}


def _due(destination: str, *, now, limit: int):
    return (
        OutboxDelivery.objects.filter(
            destination=destination, status=PENDING, next_attempt_at__lte=now
        )
        .select_related("event")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")[:limit]
    )


def _record_failure(delivery: OutboxDelivery, error: str, *, now, permanent: bool = False) -> None:
    delivery.attempts += 1
    delivery.last_error = error[:2000]
    if permanent or delivery.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        delivery.status = OutboxDelivery.Status.FAILED
        logger.error("outbox delivery %s given up: %s", delivery.pk, error)
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        delivery.claimed_until = None  # the retry is queued when it is due
        logger.warning(
            "outbox delivery %s failed (attempt %s), retry at %s: %s",
            delivery.pk,
            delivery.attempts,
            delivery.next_attempt_at.isoformat(),
            error,
        )
    delivery.save(
        update_fields=["attempts", "last_error", "status", "next_attempt_at", "claimed_until"]
    )
    OutboxEvent.objects.filter(pk=delivery.event_id).update(
        attempts=delivery.attempts, last_error=delivery.last_error
    )


def _mark_delivered(ids: list[int], *, now) -> None:
    OutboxDelivery.objects.filter(pk__in=ids).update(
        status=OutboxDelivery.Status.DELIVERED, delivered_at=now
    )


def outbox_settle_events(*, event_ids: Iterable[int]) -> int:
    """Mark events whose every delivery is settled as delivered."""
    unsettled = OutboxDelivery.objects.filter(event=OuterRef("pk")).exclude(status__in=SETTLED)
    return (
        OutboxEvent.objects.filter(pk__in=list(event_ids), delivered_at__isnull=True)
        .exclude(Exists(unsettled))
        .update(delivered_at=timezone.now())
    )


_publisher: tuple[int, asyncio.AbstractEventLoop] | None = None
_publisher_lock = threading.Lock()


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process, in a daemon thread, for publishing: the
    channel layer keeps its Redis connection per loop, so a fresh loop per
    batch (async_to_sync) would reconnect every time (measured 7 ms vs 0.1 ms
    per publish on a loaded host). Re-created after a fork (Celery prefork)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher[0] != os.getpid() or _publisher[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="outbox-publisher", daemon=True).start()
            _publisher = (os.getpid(), loop)
        return _publisher[1]


def _publish(messages: list[tuple[str, dict]]) -> tuple[int, BaseException | None]:
    return asyncio.run_coroutine_threadsafe(_group_send_all(messages), _publisher_loop()).result()


async def _group_send_all(messages: list[tuple[str, dict]]) -> tuple[int, BaseException | None]:
    """Send in order; stop at the first failure. Returns (sent count, error)."""
    layer = get_channel_layer()
    timeout = settings.OUTBOX_LIVE_SEND_TIMEOUT_SECONDS
    for index, (group, message) in enumerate(messages):
        try:
            await asyncio.wait_for(layer.group_send(group, message), timeout=timeout)
        except Exception as exc:  # any transport failure: retried with backoff
            return index, exc
    return len(messages), None


def outbox_deliver_live_batch(*, limit: int = 200) -> int:
    """Deliver up to ``limit`` due live deliveries through the channel layer.

    Rows stay locked while they are published and are marked delivered in the
    same transaction. Returns how many were delivered."""
    now = timezone.now()
    with transaction.atomic():
        batch = list(_due(LIVE, now=now, limit=limit))
        if not batch:
            return 0
        expired, sendable, messages = [], [], []
        for delivery in batch:
            if _is_stale_price(delivery.event, now=now):
                expired.append(delivery.pk)
                continue
            built = live_message(delivery.event)
            if built is None:  # kind no longer routed live: nothing to do
                expired.append(delivery.pk)
                continue
            sendable.append(delivery)
            messages.append(built)
        sent, error = _publish(messages) if messages else (0, None)
        _mark_delivered([d.pk for d in sendable[:sent]], now=now)
        if expired:
            OutboxDelivery.objects.filter(pk__in=expired).update(
                status=OutboxDelivery.Status.EXPIRED
            )
        if error is not None:
            # The transport is down: every unsent row of the batch waits out the
            # same backoff, which keeps a user's updates in their order.
            reason = f"{type(error).__name__}: {error}"
            for delivery in sendable[sent:]:
                _record_failure(delivery, reason, now=now)
        outbox_settle_events(event_ids={d.event_id for d in batch})
    return sent


def _is_stale_price(event: OutboxEvent, *, now) -> bool:
    # A price older than PRICE_MAX_AGE is superseded by a newer one: replaying
    # it after an outage would tick the page backwards through old prices.
    return event.kind == "price.updated" and event.created_at < now - settings.PRICE_MAX_AGE


def outbox_claim_due_email_ids(*, limit: int = 100) -> list[int]:
    """Claim up to ``limit`` due email deliveries for this dispatcher to
    queue a send task each: they are not claimed again for
    OUTBOX_EMAIL_CLAIM_SECONDS. Listing without claiming let every
    dispatcher run queue the same first hundred again — under load that
    filled the Celery queue with tens of thousands of duplicate tasks
    (benchmarks/README.md). Sending stays at most once either way
    (outbox_deliver_email locks the row); the claim only stops the waste."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            OutboxDelivery.objects.select_for_update(skip_locked=True)
            .filter(destination=EMAIL, status=PENDING, next_attempt_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            OutboxDelivery.objects.filter(pk__in=ids).update(
                claimed_until=now + timedelta(seconds=settings.OUTBOX_EMAIL_CLAIM_SECONDS)
            )
    return ids


def email_idempotency_key(delivery: OutboxDelivery) -> str:
    """The same for every attempt of one delivery, different for any other:
    the id, plus the event's creation time so a database restored or reset
    within Resend's 24-hour window cannot reuse a key for another email."""
    return f"dtx-email/{delivery.pk}/{delivery.event.created_at:%Y%m%dT%H%M%S%f}"


def outbox_deliver_email(*, delivery_id: int) -> str:
    """Send the email of one delivery, at most once.

    The row is locked (skip-locked: a concurrent run returns at once), checked
    to be pending and due, sent, and marked delivered in the same transaction,
    so a task that runs twice, or two workers, send it once; between the
    provider's acceptance and the commit, the Resend idempotency key keeps a
    retry from sending it again. Returns
    ``sent``, ``skipped``, ``retry`` or ``failed``."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            OutboxDelivery.objects.select_related("event")
            .select_for_update(skip_locked=True, of=("self",))
            .filter(pk=delivery_id, destination=EMAIL, status=PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return "skipped"
        try:
            message = emails.build_for_event(delivery.event)
        except emails.PermanentEmailError as exc:
            _record_failure(delivery, str(exc), now=now, permanent=True)
            return "failed"
        # The row is marked delivered only after the provider accepted the
        # email; a crash or a lost response in between leaves it pending and it
        # is sent again. The key makes that second request a no-op at Resend.
        message.esp_extra = {"idempotency_key": email_idempotency_key(delivery)}
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # SMTP/API error: transient until attempts run out
            _record_failure(delivery, f"{type(exc).__name__}: {exc}", now=now)
            return "retry" if delivery.status == PENDING else "failed"
        _mark_delivered([delivery.pk], now=now)
        outbox_settle_events(event_ids=[delivery.event_id])
    return "sent"


def outbox_expire_stale_live() -> int:
    """Expire live price updates nobody delivered in time (e.g. the embedded
    default with no socket open), so they settle and get pruned."""
    cutoff = timezone.now() - settings.PRICE_MAX_AGE
    stale = OutboxDelivery.objects.filter(
        destination=LIVE, status=PENDING, event__kind="price.updated", event__created_at__lt=cutoff
    )
    event_ids = list(stale.values_list("event_id", flat=True)[:5000])
    if not event_ids:
        return 0
    count = OutboxDelivery.objects.filter(
        event_id__in=event_ids, destination=LIVE, status=PENDING
    ).update(status=OutboxDelivery.Status.EXPIRED)
    outbox_settle_events(event_ids=event_ids)
    return count


def outbox_prune(*, older_than: timedelta | None = None, chunk: int = 5000) -> int:
    """Delete events delivered more than ``older_than`` ago (a day by default):
    price updates arrive every few seconds. Failed ones are kept for staff."""
    cutoff = timezone.now() - (older_than or settings.OUTBOX_KEEP_DELIVERED)
    total = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(delivered_at__lt=cutoff).values_list("id", flat=True)[:chunk]
        )
        if not ids:
            return total
        with transaction.atomic():
            OutboxDelivery.objects.filter(event_id__in=ids).delete()
            total += (
                OutboxEvent.objects.filter(pk__in=ids).delete()[1].get(OutboxEvent._meta.label, 0)
            )

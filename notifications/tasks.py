"""Celery adapters of the outbox dispatcher. Each is safe to run twice and at
the same time as another: the delivery rows are the source of truth."""

import logging

from celery import shared_task

from notifications import dispatch

logger = logging.getLogger(__name__)

# Bound each run so one task never monopolises a worker; the next trigger or
# sweep continues where it stopped.
MAX_LIVE_BATCHES = 50


@shared_task(name="notifications.outbox_dispatch", ignore_result=True)
def outbox_dispatch() -> dict:
    """Queued on commit of every transaction that emitted events."""
    live = 0
    if not dispatch.live_drain_in_web():
        for _ in range(MAX_LIVE_BATCHES):
            sent = dispatch.outbox_deliver_live_batch()
            live += sent
            if sent == 0:
                break
    queued = 0
    for delivery_id in dispatch.outbox_due_email_ids():
        email_deliver.delay(delivery_id)
        queued += 1
    return {"live": live, "emails_queued": queued}


@shared_task(name="notifications.outbox_sweep", ignore_result=True)
def outbox_sweep() -> dict:
    """Periodic (beat): retries due deliveries whose trigger was lost or that
    are backing off, expires stale live prices and prunes old events."""
    result = outbox_dispatch()
    result["expired"] = dispatch.outbox_expire_stale_live()
    result["pruned"] = dispatch.outbox_prune()
    return result


@shared_task(name="notifications.email_deliver", ignore_result=True)
def email_deliver(delivery_id: int) -> str:
    """Send one email delivery, at most once. A transient failure is recorded
    on the row with its backoff (it survives worker restarts, unlike a Celery
    countdown) and the sweep retries it when due."""
    return dispatch.outbox_deliver_email(delivery_id=delivery_id)

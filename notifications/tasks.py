"""Celery adapters of the outbox dispatcher. Each is safe to run twice and at
the same time as another: the delivery rows are the source of truth."""

import logging
import time

from celery import shared_task
from django.conf import settings

from notifications import dispatch

logger = logging.getLogger(__name__)

# Bound each run so one task never monopolises a worker; the next trigger or
# sweep continues where it stopped.
MAX_LIVE_BATCHES = 50


# Emails sent by one task (each still in its own transaction, at most once).
EMAIL_BATCH = 20
# How often a coalesced dispatcher looks at the outbox again during its window.
COALESCE_POLL_SECONDS = 0.02
# Hosts' clocks may differ a little: poll this much past the sender's window.
COALESCE_MARGIN_SECONDS = 0.05


@shared_task(name="notifications.outbox_dispatch", ignore_result=True, bind=True)
def outbox_dispatch(self, kicked_at: float | None = None) -> dict:
    """Queued on commit of transactions that emitted events (at most one per
    web process per OUTBOX_KICK_COALESCE_SECONDS, see services._dispatch_soon).

    ``kicked_at`` (the sender's time.time()): the sender queues no other
    dispatcher until that long after it, so this one drains until then (plus
    a margin for clock skew between hosts), polling. Eager runs (tests) and
    the sweep drain once."""
    window = settings.OUTBOX_KICK_COALESCE_SECONDS
    deadline = None
    if kicked_at is not None and window > 0 and not self.request.is_eager:
        deadline = kicked_at + window + COALESCE_MARGIN_SECONDS
    started = time.time()
    result = _drain_once()
    # Until one drain has STARTED after the deadline: a commit made just
    # before it must be seen, whatever a drain's own duration.
    while deadline is not None and started < deadline:
        time.sleep(max(0.0, min(COALESCE_POLL_SECONDS, deadline - time.time())))
        started = time.time()
        more = _drain_once()
        result = {k: result[k] + more[k] for k in result}
    return result


def _drain_once() -> dict:
    """Publish the due live deliveries and queue one send task per due email
    no other dispatcher has claimed."""
    live = 0
    for _ in range(MAX_LIVE_BATCHES):
        sent = dispatch.outbox_deliver_live_batch()
        live += sent
        if sent == 0:
            break
    ids = dispatch.outbox_claim_due_email_ids()
    # One task per batch: a Celery publish and task run per email cost the
    # worker more than rendering the email (py-spy, benchmarks/README.md).
    for start in range(0, len(ids), EMAIL_BATCH):
        email_deliver_batch.delay(ids[start : start + EMAIL_BATCH])
    return {"live": live, "emails_queued": len(ids)}


@shared_task(name="notifications.outbox_sweep", ignore_result=True)
def outbox_sweep() -> dict:
    """Periodic (beat): retries due deliveries whose trigger was lost or that
    are backing off, expires stale live prices and prunes old events."""
    result = _drain_once()
    result["expired"] = dispatch.outbox_expire_stale_live()
    result["pruned"] = dispatch.outbox_prune()
    return result


@shared_task(name="notifications.email_deliver", ignore_result=True)
def email_deliver(delivery_id: int) -> str:
    """Send one email delivery, at most once. A transient failure is recorded
    on the row with its backoff (it survives worker restarts, unlike a Celery
    countdown) and the sweep retries it when due."""
    return dispatch.outbox_deliver_email(delivery_id=delivery_id)


@shared_task(name="notifications.email_deliver_batch", ignore_result=True)
def email_deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """``email_deliver`` for several claimed deliveries, one after another;
    one failing email does not stop the others (its failure is recorded on
    its row and retried when due)."""
    outcomes: dict[str, int] = {}
    for delivery_id in delivery_ids:
        try:
            outcome = dispatch.outbox_deliver_email(delivery_id=delivery_id)
        except Exception:  # e.g. the database went away: the claim runs out, the sweep retries
            logger.exception("email delivery %s failed", delivery_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes

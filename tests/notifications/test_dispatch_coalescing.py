"""The on-commit dispatcher trigger is coalesced per web process (one broker
publish per OUTBOX_KICK_COALESCE_SECONDS), and the dispatcher it queues keeps
draining for that window, so no commit's events wait for the sweep."""

import threading
import time

import pytest
from celery.signals import before_task_publish
from django.db import connection, transaction
from django.test import override_settings

from dtexchange.celery import app
from notifications import services, tasks
from notifications.models import OutboxDelivery
from notifications.services import outbox_emit

pytestmark = pytest.mark.django_db(transaction=True)


def _emit_committed(user_id: int):
    with transaction.atomic():
        return outbox_emit(kind="notification", user_id=user_id, payload={"title": "hi"})


@pytest.fixture
def published():
    """Names of the tasks really published to the broker (Redis) meanwhile."""
    names: list[str] = []

    def record(sender=None, **_kwargs):
        names.append(sender)

    before_task_publish.connect(record, weak=False)
    services._last_kick = float("-inf")
    try:
        yield names
    finally:
        before_task_publish.disconnect(record)
        services._last_kick = float("-inf")
        app.control.purge()  # nobody consumes them in this test


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, OUTBOX_KICK_COALESCE_SECONDS=30)
def test_commits_inside_the_window_queue_one_dispatcher(make_user, published):
    user = make_user()
    for _ in range(5):
        _emit_committed(user.pk)
    assert published == ["notifications.outbox_dispatch"]


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, OUTBOX_KICK_COALESCE_SECONDS=0)
def test_window_zero_queues_one_dispatcher_per_commit(make_user, published):
    user = make_user()
    for _ in range(3):
        _emit_committed(user.pk)
    assert published == ["notifications.outbox_dispatch"] * 3


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False, OUTBOX_KICK_COALESCE_SECONDS=2.0)
def test_dispatcher_delivers_what_commits_during_its_window(make_user):
    """The commit 0.3 s after the kick queued no dispatcher of its own: the
    one already running must deliver it before it stops. (A window of 2 s
    leaves room for a slow CI host.)"""
    user = make_user()
    first = _emit_committed(user.pk)
    kicked_at = time.time()
    results = []

    def dispatcher():
        try:
            results.append(tasks.outbox_dispatch.run(kicked_at=kicked_at))
        finally:
            connection.close()  # this thread's own connection

    worker = threading.Thread(target=dispatcher)
    worker.start()
    time.sleep(0.3)
    second = _emit_committed(user.pk)
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.time() - kicked_at >= 2.0  # it polled through the window
    assert results[0]["live"] == 2
    live = OutboxDelivery.objects.filter(event__in=[first, second], destination="live")
    assert sorted(live.values_list("status", flat=True)) == ["delivered", "delivered"]


@override_settings(OUTBOX_KICK_COALESCE_SECONDS=5)
def test_eager_dispatch_runs_once_without_polling(make_user):
    """A polling eager dispatcher would hold the commit for the 5 s window."""
    user = make_user()
    started = time.monotonic()
    _emit_committed(user.pk)  # eager (tests' settings): dispatched inline on commit
    assert time.monotonic() - started < 2.5
    assert not OutboxDelivery.objects.filter(status="pending", destination="live").exists()


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False, OUTBOX_EMAIL_CLAIM_SECONDS=300)
def test_each_due_email_is_queued_by_one_dispatcher_until_its_claim_expires(make_user):
    """Listing due emails without claiming them let every dispatcher run
    queue the same ones again (tens of thousands of duplicate tasks under
    load); a claimed delivery is queued once, and again only when its
    claim has run out (its task was lost)."""
    from datetime import timedelta

    from django.utils import timezone

    from notifications import dispatch

    user = make_user()
    with transaction.atomic():
        event = outbox_emit(
            kind="notification", user_id=user.pk, payload={"late_payment": True, "title": "x"}
        )
    email = event.deliveries.get(destination="email")
    assert dispatch.outbox_claim_due_email_ids() == [email.pk]
    assert dispatch.outbox_claim_due_email_ids() == []  # another dispatcher: nothing
    OutboxDelivery.objects.filter(pk=email.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert dispatch.outbox_claim_due_email_ids() == [email.pk]  # the task was lost


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_concurrent_dispatchers_claim_disjoint_emails(make_user):
    from notifications import dispatch

    user = make_user()
    with transaction.atomic():
        for _ in range(30):
            outbox_emit(
                kind="notification", user_id=user.pk, payload={"late_payment": True, "title": "x"}
            )
    claimed: list[list[int]] = []
    barrier = threading.Barrier(3)

    def dispatcher():
        try:
            barrier.wait()
            claimed.append(dispatch.outbox_claim_due_email_ids(limit=20))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids)) == 30


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_claimed_emails_are_sent_in_batches_once_each(make_user):
    """The dispatcher queues one task per batch of claimed emails; each is
    sent once, and running the batch again sends nothing more."""
    from django.core import mail

    user = make_user()
    with transaction.atomic():
        for _ in range(tasks.EMAIL_BATCH + 5):
            outbox_emit(
                kind="notification", user_id=user.pk, payload={"late_payment": True, "title": "x"}
            )
    result = tasks.outbox_dispatch.run()  # eager Celery: the batch tasks run inline
    assert result["emails_queued"] == tasks.EMAIL_BATCH + 5
    assert len(mail.outbox) == tasks.EMAIL_BATCH + 5
    ids = list(OutboxDelivery.objects.filter(destination="email").values_list("pk", flat=True))
    assert tasks.email_deliver_batch(ids) == {"skipped": len(ids)}
    assert len(mail.outbox) == tasks.EMAIL_BATCH + 5


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, OUTBOX_KICK_COALESCE_SECONDS=30)
def test_a_window_another_process_took_queues_nothing_here(make_user, published):
    """Across processes the window is a Redis SET NX with a millisecond
    expiry: when another web process queued this window's dispatcher, this
    one's commits queue none."""
    from django.core.cache import cache

    assert cache.claim_for(services.KICK_KEY, 30)[0]  # "another process"
    user = make_user()
    _emit_committed(user.pk)
    _emit_committed(user.pk)
    assert published == []


def test_the_kick_claim_expires_after_its_window():
    from django.core.cache import cache

    assert cache.claim_for("test:claim", 1.0)[0]
    taken, left = cache.claim_for("test:claim", 1.0)
    assert not taken and 0 < left <= 1.0
    time.sleep(1.2)
    assert cache.claim_for("test:claim", 1.0)[0]


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, OUTBOX_KICK_COALESCE_SECONDS=5)
def test_a_process_skips_only_until_the_other_processs_claim_runs_out(make_user, published):
    """The other process's dispatcher polls until its claim (plus a margin)
    has run out, not until 5 s after this process first looked: once the
    claim has expired, this process's next commit queues a dispatcher."""
    from django.core.cache import cache

    assert cache.claim_for(services.KICK_KEY, 0.5)[0]  # "another process", 0.5 s left
    user = make_user()
    _emit_committed(user.pk)
    assert published == []
    time.sleep(0.7)
    _emit_committed(user.pk)
    assert published == ["notifications.outbox_dispatch"]

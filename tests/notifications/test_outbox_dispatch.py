"""The outbox dispatcher against real PostgreSQL and Redis (pub/sub layer)."""

import json
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from notifications import dispatch, tasks
from notifications.models import OutboxDelivery, OutboxEvent
from notifications.services import outbox_emit
from tests.notifications.conftest import GroupListener, run, trade_payload

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT_LAYER = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        # Port 1 is never open here: a "Redis is down" layer.
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/6"], "prefix": "dtx-test-down"},
    }
}


def test_committed_event_is_delivered_live_once_and_marked(make_user):
    user = make_user()

    async def scenario():
        def emit():
            with transaction.atomic():
                return outbox_emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())

        async with GroupListener(f"user.{user.pk}") as listener:
            event = await sync_to_async(emit)()  # on commit: eager dispatch publishes
            message = await listener.get()
            assert message["type"] == "trade_update"
            assert json.loads(message["text"])["data"]["reference"] == "DTX-7Q4K9M"
            assert message["user_id"] == user.pk
            # A second dispatch finds nothing left to send.
            await sync_to_async(tasks.outbox_sweep)()
            await listener.assert_silent()
        return event

    event = run(scenario)
    event.refresh_from_db()
    assert event.delivered_at is not None
    statuses = dict(event.deliveries.values_list("destination", "status"))
    assert statuses == {"live": "delivered", "email": "delivered"}
    assert len(mail.outbox) == 1


def test_rolled_back_change_publishes_nothing(make_user):
    user = make_user()

    async def scenario():
        def emit_and_fail():
            with transaction.atomic():
                outbox_emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())
                raise RuntimeError("the trade change failed")

        async with GroupListener(f"user.{user.pk}") as listener:
            with pytest.raises(RuntimeError):
                await sync_to_async(emit_and_fail)()
            await sync_to_async(tasks.outbox_sweep)()
            await listener.assert_silent(0.7)

    run(scenario)
    assert not OutboxEvent.objects.exists()
    assert not OutboxDelivery.objects.exists()
    assert mail.outbox == []


def test_delivery_waits_while_redis_is_down_and_is_delivered_once_after(make_user):
    user = make_user()
    with override_settings(CHANNEL_LAYERS=CLOSED_PORT_LAYER):
        with transaction.atomic():
            event = outbox_emit(
                kind="trade.updated",
                user_id=user.pk,
                payload=trade_payload(status="processing"),  # no email for this one
            )
        tasks.outbox_sweep()
    live = event.deliveries.get(destination="live")
    assert live.status == "pending"
    assert live.attempts >= 1
    assert "Error" in live.last_error
    assert live.next_attempt_at > timezone.now()  # backing off
    event.refresh_from_db()
    assert event.delivered_at is None

    async def scenario():
        async with GroupListener(f"user.{user.pk}") as listener:
            # Not due yet: the sweep respects the backoff.
            await sync_to_async(tasks.outbox_sweep)()
            await listener.assert_silent(0.3)
            await sync_to_async(
                lambda: OutboxDelivery.objects.filter(pk=live.pk).update(
                    next_attempt_at=timezone.now()
                )
            )()
            await sync_to_async(tasks.outbox_sweep)()
            await sync_to_async(tasks.outbox_sweep)()
            first = await listener.get()
            await listener.assert_silent()
        return first

    message = run(scenario)
    assert json.loads(message["text"])["data"]["status"] == "processing"
    live.refresh_from_db()
    assert live.status == "delivered"
    event.refresh_from_db()
    assert event.delivered_at is not None


@override_settings(OUTBOX_MAX_ATTEMPTS=2, OUTBOX_RETRY_BASE_SECONDS=0)
def test_attempts_are_bounded(make_user):
    user = make_user()
    with override_settings(CHANNEL_LAYERS=CLOSED_PORT_LAYER):
        with transaction.atomic():
            event = outbox_emit(kind="notification", user_id=user.pk, payload={"title": "Hi"})
        for _ in range(4):
            tasks.outbox_sweep()
    live = event.deliveries.get(destination="live")
    assert live.status == "failed"
    assert live.attempts == 2


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_concurrent_dispatchers_deliver_each_live_event_once(make_user):
    user = make_user()
    with transaction.atomic():
        for n in range(30):
            outbox_emit(kind="notification", user_id=user.pk, payload={"title": f"n{n}"})

    async def scenario():
        def race():
            barrier = threading.Barrier(3)
            errors = []

            def worker():
                from django.db import connection

                try:
                    barrier.wait()
                    while dispatch.outbox_deliver_live_batch(limit=4):
                        pass
                except Exception as exc:
                    errors.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=worker) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return errors

        seen = []
        async with GroupListener(f"user.{user.pk}") as listener:
            errors = await sync_to_async(race)()
            assert errors == []
            while True:
                try:
                    msg = await listener.get(timeout=1)
                except TimeoutError:
                    break
                seen.append(json.loads(msg["text"])["data"]["title"])
        return seen

    seen = run(scenario)
    assert sorted(seen) == sorted(f"n{n}" for n in range(30))
    assert not OutboxDelivery.objects.exclude(status="delivered").exists()


def test_stale_price_updates_expire_and_old_events_are_pruned():
    with override_settings(OUTBOX_DISPATCH_ON_COMMIT=False), transaction.atomic():
        stale = outbox_emit(kind="price.updated", payload={"crypto": "BTC", "fiat": "USD"})
        kept = outbox_emit(kind="price.updated", payload={"crypto": "ETH", "fiat": "USD"})
    OutboxEvent.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert dispatch.outbox_expire_stale_live() == 1
    stale.refresh_from_db()
    assert stale.deliveries.get().status == "expired"
    assert stale.delivered_at is not None
    assert kept.deliveries.get().status == "pending"
    OutboxEvent.objects.filter(pk=stale.pk).update(delivered_at=timezone.now() - timedelta(days=2))
    assert dispatch.outbox_prune() == 1
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [kept.pk]


def test_event_without_destination_is_settled_at_once():
    with transaction.atomic():
        event = outbox_emit(kind="something.internal", payload={})
    assert event.delivered_at is not None
    assert not event.deliveries.exists()

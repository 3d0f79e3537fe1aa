"""notifications/sql.py: events and their deliveries in one statement."""

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from notifications.models import OutboxDelivery, OutboxEvent
from notifications.services import outbox_emit, outbox_emit_many

pytestmark = pytest.mark.django_db


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_events_are_written_in_order_with_one_delivery_per_destination():
    events = [
        {"kind": "price.updated", "payload": {"crypto": "BTC", "n": 1}},
        {
            "kind": "trade.updated",
            "user_id": 7,
            "payload": {"status": "completed", "previous_status": "pending", "trade_type": "buy"},
        },
        {"kind": "something.internal", "payload": {"n": 3}},
        {"kind": "notification", "user_id": 7, "payload": {"title": "hi"}},
    ]
    with CaptureQueriesContext(connection) as queries:
        outbox_emit_many(events=events)
    assert len(queries.captured_queries) == 1

    rows = list(OutboxEvent.objects.order_by("pk"))
    assert [(e.kind, e.user_id, e.payload) for e in rows] == [
        (e["kind"], e.get("user_id"), e["payload"]) for e in events
    ]
    deliveries = {
        e.kind: sorted(OutboxDelivery.objects.filter(event=e).values_list("destination", "status"))
        for e in rows
    }
    assert deliveries == {
        "price.updated": [("live", "pending")],
        "trade.updated": [("email", "pending"), ("live", "pending")],
        "something.internal": [],
        "notification": [("live", "pending")],
    }
    # An event nobody listens to is settled at once; the others wait for the dispatcher.
    settled = {e.kind: e.delivered_at is not None for e in rows}
    assert settled == {
        "price.updated": False,
        "trade.updated": False,
        "something.internal": True,
        "notification": False,
    }
    assert all(e.attempts == 0 and e.last_error == "" for e in rows)


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_outbox_emit_returns_the_row_it_wrote():
    event = outbox_emit(kind="notification", user_id=3, payload={"title": "T", "body": "b"})
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert (stored.kind, stored.user_id, stored.payload) == ("notification", 3, event.payload)
    assert stored.created_at == event.created_at
    assert stored.delivered_at is None and event.delivered_at is None
    assert list(stored.deliveries.values_list("destination", flat=True)) == ["live"]


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_a_rolled_back_transaction_leaves_no_event_and_no_delivery():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_emit_many(events=[{"kind": "price.updated", "payload": {}}])
        raise RuntimeError("the caller's change failed")
    assert not OutboxEvent.objects.exists()
    assert not OutboxDelivery.objects.exists()


def test_an_empty_list_sends_nothing():
    with CaptureQueriesContext(connection) as queries:
        outbox_emit_many(events=[])
    assert queries.captured_queries == []

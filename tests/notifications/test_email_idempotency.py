"""Never the same email twice through Resend: a crash or a lost response
after Resend accepted an email leaves its delivery pending, and the retry
carries the same ``Idempotency-Key``, so Resend does not send it again.
Resend is a local HTTP stub with Resend's idempotency rules
(tests/notifications/resend_stub.py); the backend is the production one."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import transaction
from django.test import override_settings

from notifications import tasks
from notifications.dispatch import email_idempotency_key
from notifications.models import OutboxDelivery
from notifications.services import outbox_emit
from tests.notifications import daphne_server
from tests.notifications.conftest import trade_payload
from tests.notifications.resend_stub import ResendStub

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def email_delivery(make_user):
    user = make_user("alice@example.com")
    with override_settings(OUTBOX_DISPATCH_ON_COMMIT=False), transaction.atomic():
        event = outbox_emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())
    return OutboxDelivery.objects.get(event=event, destination="email")


def test_each_delivery_sends_its_own_key_as_an_http_header(email_delivery):
    with ResendStub() as resend, override_settings(MAILERS=resend.mailers()):
        assert tasks.email_deliver(email_delivery.pk) == "sent"
    [request] = resend.requests
    assert request["idempotency_key"] == email_idempotency_key(email_delivery)
    assert request["idempotency_key"].startswith(f"dtx-email/{email_delivery.pk}/")
    assert "idempotency_key" not in request["body"]  # a header, not a body field
    assert request["body"]["to"] == ["alice@example.com"]
    assert len(resend.sent) == 1


def test_lost_response_then_retry_sends_once(email_delivery):
    """Resend accepts the email but its answer never arrives (timeout): the
    delivery is retried, and Resend sees the same key."""
    first = threading.Event()

    def lose_first_answer(_request):
        if not first.is_set():
            first.set()
            time.sleep(2.5)  # longer than the client's timeout

    with (
        ResendStub(before_reply=lose_first_answer) as resend,
        override_settings(MAILERS=resend.mailers(timeout=1)),
    ):
        assert tasks.email_deliver(email_delivery.pk) == "retry"
        email_delivery.refresh_from_db()
        assert (email_delivery.status, email_delivery.attempts) == ("pending", 1)
        OutboxDelivery.objects.filter(pk=email_delivery.pk).update(
            next_attempt_at=email_delivery.next_attempt_at.replace(year=2000)
        )
        assert tasks.email_deliver(email_delivery.pk) == "sent"
    keys = [r["idempotency_key"] for r in resend.requests]
    assert keys == [email_idempotency_key(email_delivery)] * 2
    assert len(resend.sent) == 1  # the second request was answered, not sent
    email_delivery.refresh_from_db()
    assert email_delivery.status == "delivered"


def test_worker_killed_after_resend_accepted_sends_once(email_delivery):
    """The worker process dies between Resend's acceptance and the commit
    that marks the delivery: the row stays pending, the next run sends it
    again with the same key, and Resend delivers one email."""
    worker: dict = {}

    def kill_worker(_request):
        if "killed" not in worker:
            worker["killed"] = True
            os.kill(worker["proc"].pid, signal.SIGKILL)

    with ResendStub(before_reply=kill_worker) as resend:
        env = {
            **os.environ,
            "DATABASE_URL": daphne_server.test_database_url(),
            "PYTHONPATH": str(daphne_server.ROOT),
        }
        worker["proc"] = subprocess.Popen(  # noqa: S603 - our interpreter and test module
            [
                sys.executable,
                "-m",
                "tests.notifications.deliver_email_child",
                resend.url,
                str(email_delivery.pk),
            ],
            cwd=daphne_server.ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        worker["proc"].wait(timeout=60)
        assert worker["proc"].returncode == -signal.SIGKILL, worker["proc"].stderr.read()
        email_delivery.refresh_from_db()
        assert (email_delivery.status, email_delivery.attempts) == ("pending", 0)
        with override_settings(MAILERS=resend.mailers()):
            # PostgreSQL releases the dead worker's row lock when it notices
            # the closed connection; until then the row is skipped, not sent.
            deadline = time.monotonic() + 10
            while (result := tasks.email_deliver(email_delivery.pk)) == "skipped":
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert result == "sent"
    assert [r["idempotency_key"] for r in resend.requests] == [
        email_idempotency_key(email_delivery)
    ] * 2
    assert len(resend.sent) == 1
    email_delivery.refresh_from_db()
    assert email_delivery.status == "delivered"

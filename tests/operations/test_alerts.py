"""Alerts: each rule fires once when its condition appears (email to
ALERT_EMAILS and a JSON POST to ALERT_WEBHOOK_URL), repeats only after
ALERT_REPEAT_SECONDS, clears once with a message, and stays quiet after."""

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from notifications.models import OutboxEvent
from notifications.services import outbox_emit
from operations.alerts import alerts_check, heartbeat_record
from operations.models import Alert
from payments.models import MobileMoneyPayment
from payments.phone import msisdn_parse
from payments.services import mobile_money_payment_create
from tests.factories import UserFactory, make_trade, set_prices

pytestmark = pytest.mark.django_db


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    """A real HTTP server taking the alert webhook's POSTs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/alerts"
    settings.ALERT_EMAILS = ["ops@example.test", "oncall@example.test"]
    yield server.received
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _prices():
    set_prices()


def _payment(*, direction="collection", **fields):
    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction=direction,
            user=UserFactory(),
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal("5000"),
            currency="UGX",
            submit=False,
        )
    MobileMoneyPayment.objects.filter(pk=payment.pk).update(**fields)
    return payment


def _stuck_trade():
    trade = make_trade(
        UserFactory(), status="pending", created_at=timezone.now() - timedelta(hours=2)
    )
    return lambda: type(trade).objects.filter(pk=trade.pk).update(status="expired")


def _flagged_payment():
    payment = _payment(flagged=True, flag_reason="amount differs")
    return lambda: MobileMoneyPayment.objects.filter(pk=payment.pk).update(
        resolved_at=timezone.now()
    )


def _outbox_backlog():
    with transaction.atomic():
        outbox_emit(kind="email.staff_alert", payload={"to": "x@example.test"})
    # Nothing delivered for ten minutes (ids grow with time: all of them).
    waiting = OutboxEvent.objects.filter(delivered_at__isnull=True)
    waiting.update(created_at=timezone.now() - timedelta(minutes=10))
    return lambda: waiting.update(delivered_at=timezone.now())


def _stale_prices():
    from django.core.cache import cache

    from trading.services.prices import CACHE_KEY, prices_forget_local

    snapshot = cache.get(CACHE_KEY)
    old = (timezone.now() - timedelta(hours=1)).isoformat()
    for pair in snapshot["pairs"]:
        if pair["crypto"] == "BTC":
            pair["at"] = pair["crypto_at"] = old
    cache.set(CACHE_KEY, snapshot)
    prices_forget_local()
    return set_prices


def _payout_waiting():
    payment = _payment(
        direction="payout",
        waiting_reason="low_float",
        created_at=timezone.now() - timedelta(minutes=30),
    )
    return lambda: MobileMoneyPayment.objects.filter(pk=payment.pk).update(
        status="succeeded", waiting_reason=""
    )


RULES = {
    "trades_stuck:mobile_money": _stuck_trade,
    "payments_flagged": _flagged_payment,
    "outbox_backlog": _outbox_backlog,
    "prices_stale": _stale_prices,
    "payouts_waiting_float": _payout_waiting,
}


@pytest.mark.parametrize("key", list(RULES))
def test_each_rule_fires_once_repeats_on_schedule_and_clears_once(key, webhook, settings):
    assert alerts_check(from_beat=True).opened == []  # nothing wrong yet
    clear = RULES[key]()

    report = alerts_check(from_beat=True)

    assert report.opened == [key]
    (email,) = mail.outbox
    assert email.subject == f"[DT Exchange] ALERT: {key}"
    assert email.to == ["ops@example.test", "oncall@example.test"]
    assert [(w["event"], w["alert"]) for w in webhook] == [("opened", key)]
    # Checked again (beat runs every minute): nothing more is sent.
    for _ in range(3):
        assert alerts_check(from_beat=True).opened == []
    assert len(mail.outbox) == 1 and len(webhook) == 1
    # ALERT_REPEAT_SECONDS later (the last send moved back by that much),
    # still open: one reminder.
    Alert.objects.update(
        last_sent_at=F("last_sent_at") - timedelta(seconds=settings.ALERT_REPEAT_SECONDS + 1)
    )
    assert alerts_check(from_beat=True).repeated == [key]
    assert mail.outbox[-1].subject == f"[DT Exchange] STILL OPEN: {key}"
    assert alerts_check(from_beat=True).repeated == []
    assert len(mail.outbox) == 2 and len(webhook) == 2
    sent = len(mail.outbox)

    clear()
    assert alerts_check(from_beat=True).resolved == [key]
    assert mail.outbox[-1].subject == f"[DT Exchange] RESOLVED: {key}"
    assert webhook[-1]["event"] == "resolved" and webhook[-1]["resolved_at"]
    assert alerts_check(from_beat=True).resolved == []
    assert len(mail.outbox) == sent + 1
    alert = Alert.objects.get()
    assert alert.state == "resolved" and alert.key == key


def test_beat_falling_silent_is_seen_by_the_watchdog_and_clears_when_beat_runs(webhook):
    heartbeat_record(name="beat", now=timezone.now() - timedelta(minutes=10))
    call_command("alerts_check")  # the timer outside Celery
    assert [a.key for a in Alert.objects.filter(state="open")] == ["beat_silent"]
    assert mail.outbox[0].subject == "[DT Exchange] ALERT: beat_silent"
    call_command("alerts_check")
    assert len(mail.outbox) == 1
    from operations.tasks import alerts_check_task

    alerts_check_task.delay()  # beat runs again (eager in tests)
    assert mail.outbox[-1].subject == "[DT Exchange] RESOLVED: beat_silent"
    assert not Alert.objects.filter(state="open").exists()


def test_one_alert_per_method_with_its_own_sla(webhook, settings):
    settings.ALERT_TRADE_SLA_SECONDS = {**settings.ALERT_TRADE_SLA_SECONDS, "voucher": 60}
    now = timezone.now()
    make_trade(
        UserFactory(),
        status="processing",
        payment_method="voucher",
        created_at=now - timedelta(minutes=2),
    )
    # Inside mobile money's SLA (45 minutes): not an alert.
    make_trade(UserFactory(), status="pending", created_at=now - timedelta(minutes=10))
    assert alerts_check(from_beat=True).opened == ["trades_stuck:voucher"]
    assert "1 voucher trade(s)" in Alert.objects.get().summary


def test_a_failed_email_rolls_the_alert_back_and_the_next_check_sends_it(webhook, settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.operations.test_alerts.BrokenMailer"}}
    _stuck_trade()
    with pytest.raises(ConnectionError):
        alerts_check(from_beat=True)
    assert not Alert.objects.exists()
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    assert alerts_check(from_beat=True).opened == ["trades_stuck:mobile_money"]


def test_a_webhook_that_is_down_does_not_stop_the_email(settings):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/down"
    _stuck_trade()
    assert alerts_check(from_beat=True).opened == ["trades_stuck:mobile_money"]
    assert len(mail.outbox) == 1


class BrokenMailer:
    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        raise ConnectionError("mail server down")

    def close(self):
        pass

    def send_messages(self, messages):
        raise ConnectionError("mail server down")

"""Emails from outbox events: content and figures, HTML + text, and at most
once per delivery however often the task runs."""

import threading

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from notifications import tasks
from notifications.models import OutboxDelivery
from notifications.services import outbox_emit
from tests.notifications.conftest import trade_payload
from tests.notifications.daphne_server import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def emit(**kwargs):
    with transaction.atomic():
        return outbox_emit(**kwargs)


def only_mail():
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    message = mail.outbox[0]
    html = dict((mime, body) for body, mime in message.alternatives)["text/html"]
    return message, message.body, html


def assert_common(text, html, reference):
    for body in (text, html):
        assert "support@dtexchange.ug" in body
        assert "never ask for your password" in body
        assert reference in body
    assert "#003087" in html and "#f5f7fa" in html
    assert 'name="viewport"' in html
    assert "<table" in html and "<html" not in text


def test_buy_completed_email(make_user):
    user = make_user("buyer@example.com")
    emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())
    message, text, html = only_mail()
    assert message.to == ["buyer@example.com"]
    assert message.subject == "You bought 0.00125000 BTC"
    for body in (text, html):
        assert "UGX 500,000" in body  # paid, fee included
        assert "UGX 12,500" in body  # fee
        assert "2.5%" in body
        assert "0.00125000 BTC" in body
        assert "1 BTC = UGX 390,000,000" in body
        assert "Mobile money" in body
        assert "25 Nov 2026, 13:02 EAT" in body  # 10:02 UTC in Kampala
    assert_common(text, html, "DTX-7Q4K9M")


def test_sell_completed_email_shows_what_the_user_receives(make_user):
    user = make_user()
    emit(
        kind="trade.updated",
        user_id=user.pk,
        payload=trade_payload(
            trade_type="sell",
            fiat_currency="USD",
            crypto_amount="0.500000000000000000",
            fiat_amount="48500.000000000000000000",
            fee_amount="242.500000000000000000",
            fee_rate="0.005000000000000000",
            exchange_rate="97000.000000000000000000",
            payment_method="balance",
            reference="DTX-SELL01",
        ),
    )
    message, text, html = only_mail()
    assert message.subject == "You sold 0.50000000 BTC"
    for body in (text, html):
        assert "$48,500.00" in body
        assert "$242.50" in body
        assert "$48,257.50" in body  # gross - fee
        assert "0.5%" in body
        assert "1 BTC = $97,000.00" in body
        assert "Wallet balance" in body
    assert_common(text, html, "DTX-SELL01")


@pytest.mark.parametrize(
    ("trade_type", "headline", "next_step"),
    [
        ("buy", "Failed — nothing was charged", "nothing was charged for this trade"),
        ("sell", "Failed — refunded to your wallet", "we returned UGX 487,500 to your"),
    ],
)
def test_trade_failed_email_says_why_and_what_next(make_user, trade_type, headline, next_step):
    user = make_user()
    emit(
        kind="trade.updated",
        user_id=user.pk,
        payload=trade_payload(
            status="failed",
            previous_status="processing",
            trade_type=trade_type,
            reason="The mobile money payment was declined.",
        ),
    )
    message, text, html = only_mail()
    assert message.subject == "Your trade DTX-7Q4K9M did not go through"
    for body in (text, html):
        assert headline in body
        assert "The mobile money payment was declined." in body
        assert next_step in body
        assert "UGX 500,000" in body
    assert_common(text, html, "DTX-7Q4K9M")


def test_late_payment_credited_email(make_user):
    user = make_user()
    emit(
        kind="notification",
        user_id=user.pk,
        payload={
            "title": "Your late payment is in your wallet",
            "body": "UGX 250,000 arrived after your trade expired; it is in your wallet.",
            "level": "info",
            "late_payment": True,
            "amount": "250000.000000000000000000",
            "currency": "UGX",
            "reference": "DTX-LATE01",
            "payment_method": "mobile_money",
            "at": "2026-11-25T09:00:00+00:00",
        },
    )
    message, text, html = only_mail()
    assert message.subject == "Your late payment of UGX 250,000 is in your wallet"
    for body in (text, html):
        assert "UGX 250,000" in body
        assert "Mobile money" in body
        assert "25 Nov 2026, 12:00 EAT" in body
    assert_common(text, html, "DTX-LATE01")


def test_no_email_for_intermediate_states_or_plain_notifications(make_user):
    user = make_user()
    emit(kind="trade.updated", user_id=user.pk, payload=trade_payload(status="processing"))
    emit(kind="notification", user_id=user.pk, payload={"title": "Hello", "body": ""})
    assert mail.outbox == []
    assert not OutboxDelivery.objects.filter(destination="email").exists()


def test_email_kind_names_its_template_and_recipient():
    emit(
        kind="email.late_payment_credited",
        payload={
            "to": "someone@example.com",
            "subject": "Custom subject",
            "amount": "1000",
            "currency": "UGX",
            "reference": "R-1",
        },
    )
    message, text, _html = only_mail()
    assert message.to == ["someone@example.com"]
    assert message.subject == "Custom subject"
    assert "R-1" in text


def test_unknown_template_fails_permanently_without_retry():
    event = emit(kind="email.no_such_template", payload={"to": "x@example.com"})
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "no_such_template" in delivery.last_error
    tasks.outbox_sweep()
    assert mail.outbox == []


@override_settings(OUTBOX_DISPATCH_ON_COMMIT=False)
def test_email_task_run_twice_sends_once(make_user):
    user = make_user()
    event = emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())
    delivery = event.deliveries.get(destination="email")
    assert tasks.email_deliver(delivery.pk) == "sent"
    assert tasks.email_deliver(delivery.pk) == "skipped"
    tasks.outbox_sweep()
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


@override_settings(
    OUTBOX_DISPATCH_ON_COMMIT=False,
    MAILERS={"default": {"BACKEND": "tests.notifications.slow_mail.SlowLocmemBackend"}},
)
def test_concurrent_email_tasks_send_once(make_user):
    user = make_user()
    event = emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())
    delivery_id = event.deliveries.get(destination="email").pk
    barrier, results = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait()
            results.append(tasks.email_deliver(delivery_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["sent", "skipped", "skipped", "skipped"]
    assert len(mail.outbox) == 1


def test_transient_send_failure_is_retried_later_and_sent_once(make_user):
    user = make_user()
    closed = free_port()
    smtp_down = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed, "timeout": 2},
        }
    }
    with override_settings(MAILERS=smtp_down):
        event = emit(kind="trade.updated", user_id=user.pk, payload=trade_payload())
    delivery = event.deliveries.get(destination="email")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at > timezone.now()
    assert mail.outbox == []
    tasks.outbox_sweep()  # not due yet
    assert mail.outbox == []
    OutboxDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    tasks.outbox_sweep()
    tasks.outbox_sweep()
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"

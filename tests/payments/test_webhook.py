"""Relworx webhooks over real HTTP: the sandbox (a real local server) signs and
posts them to our live test server; forged ones are posted by the test."""

import random
import threading
import time
from decimal import Decimal

import httpx
import pytest
from django.db import transaction

from payments.models import MobileMoneyPayment, WebhookEvent
from payments.phone import msisdn_parse
from payments.services import mobile_money_payment_create, mobile_money_poll
from payments.signature import signature_header
from tests.payments.conftest import WEBHOOK_PATH, WEBHOOK_SECRET, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
Status = MobileMoneyPayment.Status


def collect(user, number, amount="5000"):
    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction="collection",
            user=user,
            msisdn=msisdn_parse(value=number),
            amount=Decimal(amount),
            currency="UGX",
        )
    # After commit the submission ran (eager Celery in tests) against the sandbox.
    return payment.pk


def settled(pk):
    payment = MobileMoneyPayment.objects.get(pk=pk)
    return payment if payment.status != Status.PENDING or payment.flagged else None


@pytest.mark.parametrize("number", ["+256770000001", "+256700000001", "+256781234567"])
def test_a_successful_payment_is_settled_by_its_signed_webhook(sandbox, customer, number):
    pk = collect(customer, number)
    payment = wait_for(lambda: settled(pk))
    assert payment.status == Status.SUCCEEDED
    assert payment.internal_reference and payment.submitted_at
    assert payment.amount_received == Decimal("5000")
    assert "msisdn" not in payment.last_status_raw or "***" in payment.last_status_raw["msisdn"]
    event = WebhookEvent.objects.get()
    # The webhook (amount unsigned) only queued the status check, which settled it.
    assert (event.status, event.result, event.payment_id) == ("success", "status_check_queued", pk)
    # The sandbox records the delivery when our answer reaches it, which can be
    # just after the database shows the payment settled.
    delivery = wait_for(lambda: sandbox.deliveries and sandbox.deliveries[0])
    assert delivery["http_status"] == 200


def test_a_failed_payment_is_failed_with_the_reason(sandbox, customer):
    pk = collect(customer, "+256770000002")
    payment = wait_for(lambda: settled(pk))
    assert payment.status == Status.FAILED
    assert "Insufficient funds" in payment.failure_reason


def test_a_webhook_sent_twice_is_processed_once(sandbox, customer):
    pk = collect(customer, "+256770000004")
    wait_for(lambda: len(sandbox.deliveries) == 2)
    assert [d["http_status"] for d in sandbox.deliveries] == [200, 200]
    assert MobileMoneyPayment.objects.get(pk=pk).status == Status.SUCCEEDED
    assert WebhookEvent.objects.count() == 1


def test_polling_settles_a_payment_whose_webhook_never_comes(sandbox, customer):
    pk = collect(customer, "+256770000003")
    time.sleep(0.5)  # past the sandbox's delay: Relworx has the outcome, we do not
    assert settled(pk) is None and sandbox.deliveries == []
    assert mobile_money_poll(payment_id=pk) == "succeeded"
    assert MobileMoneyPayment.objects.get(pk=pk).status == Status.SUCCEEDED
    assert mobile_money_poll(payment_id=pk) == "not_pending"  # safe to run twice


def test_a_payment_pending_forever_backs_off_between_polls(sandbox, customer):
    pk = collect(customer, "+256770000005")
    time.sleep(0.4)
    assert mobile_money_poll(payment_id=pk) == "pending"
    first = MobileMoneyPayment.objects.get(pk=pk)
    assert mobile_money_poll(payment_id=pk) == "pending"
    second = MobileMoneyPayment.objects.get(pk=pk)
    assert (first.attempts, second.attempts) == (1, 2)
    assert second.next_poll_at - second.updated_at > first.next_poll_at - first.updated_at
    assert second.status == Status.PENDING and sandbox.deliveries == []


def test_a_request_refused_by_relworx_fails_at_once(sandbox, customer):
    pk = collect(customer, "+256770000008")
    payment = MobileMoneyPayment.objects.get(pk=pk)
    assert payment.status == Status.FAILED
    assert "not registered" in payment.failure_reason
    assert payment.internal_reference is None


def test_a_503_then_retry_is_one_payment_at_relworx(sandbox, customer):
    pk = collect(customer, "+256770000007")
    payment = wait_for(lambda: settled(pk))
    assert payment.status == Status.SUCCEEDED
    assert len(sandbox.listing()) == 1
    assert [h[2] for h in sandbox.hits][:2] == [503, 200]
    assert sandbox.hits[2][1] == "/api/mobile-money/check-request-status"


def test_a_success_for_a_different_amount_is_flagged_not_settled(sandbox, customer):
    pk = collect(customer, "+256770000009")
    payment = wait_for(lambda: settled(pk))
    assert payment.status == Status.PENDING and payment.flagged
    assert payment.amount_received == Decimal("4900")
    assert "not settled" in payment.flag_reason
    # A flagged payment is left for a person: the poller skips it.
    assert mobile_money_poll(payment_id=pk) == "not_pending"


# --- forged and replayed webhooks -------------------------------------------------


def _pending_payment(customer, sandbox):
    # Relworx accepted it (internal reference known); its outcome is still open.
    pk = collect(customer, "+256770000005")
    return MobileMoneyPayment.objects.get(pk=pk)


def _succeeded_at_relworx(customer, sandbox):
    # Relworx has it as succeeded, but sends no webhook (+256770000003): the
    # test posts it, and the status check confirms it.
    pk = collect(customer, "+256770000003")
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")
    return MobileMoneyPayment.objects.get(pk=pk)


def _event(payment, status="success"):
    return {
        "status": status,
        "message": "done",
        "customer_reference": payment.reference,
        "internal_reference": payment.internal_reference,
        "msisdn": "+256770000005",
        "amount": 5000,
        "currency": "UGX",
        "provider": "MTN_UGANDA",
        "charge": 0,
        "completed_at": "2026-01-01T00:00:00+00:00",
    }


def _post(live_server, body, header):
    headers = {"Relworx-Signature": header} if header is not None else {}
    return httpx.post(f"{live_server.url}{WEBHOOK_PATH}", json=body, headers=headers, timeout=10)


def _sign(url, body, *, key=WEBHOOK_SECRET, timestamp=None, encoding="hex"):
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}
    return signature_header(key=key, url=url, fields=fields, timestamp=timestamp, encoding=encoding)


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_valid_signatures_in_hex_or_base64_are_accepted(sandbox, customer, live_server, encoding):
    payment = _succeeded_at_relworx(customer, sandbox)
    body = _event(payment)
    response = _post(live_server, body, _sign(sandbox.webhook_url, body, encoding=encoding))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "result": "status_check_queued"}
    assert MobileMoneyPayment.objects.get(pk=payment.pk).status == Status.SUCCEEDED


def _flipped(header):
    t, v = header.split(",v=")
    return f"{t},v={v[:10]}{'0' if v[10] != '0' else '1'}{v[11:]}"


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda url, body: _flipped(_sign(url, body)), id="flipped-byte"),
        pytest.param(lambda url, body: _sign(url, body, key="not-our-key"), id="wrong-key"),
        pytest.param(
            lambda url, body: _sign(url, body, timestamp=int(time.time()) - 72 * 3600 - 60),
            id="older-than-the-retry-window",
        ),
        pytest.param(
            lambda url, body: _sign(url, body, timestamp=int(time.time()) + 400), id="future"
        ),
        pytest.param(lambda url, body: None, id="missing"),
        pytest.param(lambda url, body: "t=,v=", id="empty"),
        pytest.param(
            lambda url, body: _sign(url, {**body, "status": "failed"}), id="signed-for-other-status"
        ),
    ],
)
def test_forged_or_stale_webhooks_are_401_and_change_nothing(sandbox, customer, live_server, forge):
    payment = _pending_payment(customer, sandbox)
    body = _event(payment)
    response = _post(live_server, body, forge(sandbox.webhook_url, body))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert WebhookEvent.objects.count() == 0
    after = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert (after.status, after.flagged, after.last_status_raw) == (
        Status.PENDING,
        False,
        payment.last_status_raw,
    )


def test_the_same_event_five_times_concurrently_and_out_of_order_settles_once(
    sandbox, customer, live_server
):
    payment = _succeeded_at_relworx(customer, sandbox)
    success = _event(payment)
    pending = _event(payment, status="pending")
    bodies = [success] * 5 + [pending] * 3
    random.Random(7).shuffle(bodies)
    barrier = threading.Barrier(len(bodies))
    results = []

    def deliver(body):
        header = _sign(sandbox.webhook_url, body)
        barrier.wait()
        results.append(_post(live_server, body, header))

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 for r in results)
    outcomes = sorted(r.json()["result"] for r in results)
    # One success queued the status check (which settled it), one pending was
    # noted (before or after: it never reopens anything), the rest are repeats.
    assert outcomes == ["duplicate"] * 6 + ["pending", "status_check_queued"]
    after = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert after.status == Status.SUCCEEDED and not after.flagged
    assert WebhookEvent.objects.filter(status="success").count() == 1
    # A late "pending" (processed after the success, or first) never reopens it.
    assert (
        _post(live_server, {**pending, "message": "x"}, _sign(sandbox.webhook_url, pending)).json()[
            "result"
        ]
        == "duplicate"
    )


def test_a_failure_after_success_is_flagged_not_applied(sandbox, customer, live_server):
    payment = _succeeded_at_relworx(customer, sandbox)
    for status in ("success", "failed"):
        body = _event(payment, status)
        assert _post(live_server, body, _sign(sandbox.webhook_url, body)).status_code == 200
    after = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert after.status == Status.SUCCEEDED and after.flagged
    assert "failed arrived after" in after.flag_reason


def test_a_webhook_for_an_unknown_payment_is_acknowledged_and_recorded(sandbox, live_server):
    body = {
        "status": "success",
        "customer_reference": "DTXCUNKNOWN000",
        "internal_reference": "abc",
        "amount": 500,
        "currency": "UGX",
    }
    response = _post(live_server, body, _sign(sandbox.webhook_url, body))
    assert response.json()["result"] == "unknown_payment"
    assert WebhookEvent.objects.get().payment_id is None

"""Two workers on one payout at once (a Celery retry and the poller, or two
retries) against the sandbox, each thread with its own PostgreSQL
connection: exactly one send-payment request reaches Relworx."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from ledger.selectors import balance_get
from payments.models import MobileMoneyPayment
from payments.services import mobile_money_poll, mobile_money_submit
from tests.factories import (
    UserFactory,
    confirm_payout_number,
    fund_reserves,
    fund_wallet,
    set_prices,
)
from trading.models import Trade, TradeStatus
from trading.services import trade_sell

pytestmark = pytest.mark.django_db(transaction=True)


def sell(user, number):
    fund_wallet(user, "BTC", "0.01")
    confirm_payout_number(user, number)  # money goes to a phone only at a confirmed number
    return trade_sell(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal("0.001"),
        payment_method="mobile_money",
        payment_details={"phone_number": number},
    )


def sends(server):
    return [h for h in server.hits if h[1] == "/api/mobile-money/send-payment"]


def waiting_payout(server, number="+256770000001"):
    """A payout recorded but not sent yet (it waited for float), then released
    with a slow Relworx, so that two workers overlap."""
    set_prices()
    fund_reserves()
    server.switch({"float": 1000})
    trade = sell(UserFactory(), number)
    payment = MobileMoneyPayment.objects.get(trade=trade)
    assert payment.waiting_reason == "low_float" and not payment.maybe_sent
    assert sends(server) == []
    server.switch({"float": None, "latency": 0.4})
    return trade, payment


def run_together(*calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def worker(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.parametrize("second", ["celery-retry", "poller"])
def test_two_workers_at_once_send_a_payout_once(make_sandbox, second):
    server = make_sandbox(delay=30)  # stays pending: only the sends matter here
    trade, payment = waiting_payout(server)
    other = {
        "celery-retry": lambda: mobile_money_submit(payment_id=payment.pk),
        "poller": lambda: mobile_money_poll(payment_id=payment.pk),
    }[second]
    results = run_together(lambda: mobile_money_submit(payment_id=payment.pk), other)
    assert len(sends(server)) == 1, (sends(server), results)
    assert len(server.listing()) == 1
    # Whichever came first sent it; the other left it alone (found it being
    # sent, or already accepted and pending at Relworx).
    assert results.count("submitted") == 1, results
    assert {r for r in results if r != "submitted"} <= {"in_progress", "pending"}, results
    stored = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert stored.maybe_sent and stored.submit_attempts == 1
    assert stored.internal_reference  # the one send was accepted and recorded
    assert Trade.objects.get(pk=trade.pk).status != TradeStatus.FAILED


def test_a_refused_send_racing_another_worker_refunds_nothing(make_sandbox, settings):
    """+256770000010 refuses a resend 409 "duplicate reference". Two workers
    that both believed they made the first send would take that 409 as a
    clean refusal of a first send, fail the payout and refund the wallet
    while the money went out. Only one sends; nothing is refunded."""
    settings.RELWORX_MAX_ATTEMPTS = 1  # no retry inside the client: one call per worker
    server = make_sandbox(delay=30)
    trade, payment = waiting_payout(server, "+256770000010")
    user = payment.user
    before = balance_get(user=user, currency="UGX")
    results = run_together(
        lambda: _submit_or_unavailable(payment.pk), lambda: _submit_or_unavailable(payment.pk)
    )
    assert len(sends(server)) == 1, (sends(server), results)
    assert sorted(results) == ["in_progress", "unavailable"]  # the 503 of the first send
    stored = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert stored.status == MobileMoneyPayment.Status.PENDING and stored.maybe_sent
    assert balance_get(user=user, currency="UGX") == before  # not refunded
    assert Trade.objects.get(pk=trade.pk).status != TradeStatus.FAILED


def _submit_or_unavailable(payment_id):
    from payments.relworx import RelworxUnavailable

    try:
        return mobile_money_submit(payment_id=payment_id)
    except RelworxUnavailable:
        return "unavailable"

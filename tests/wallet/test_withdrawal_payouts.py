"""Withdrawals to mobile money end to end: confirmed with the emailed code,
paid out through the Relworx sandbox (a real local server), outcomes by
signed webhooks over real HTTP and by polling; a failed payout is refunded
exactly once, however many webhooks and polls race for it."""

import threading
from decimal import Decimal

import httpx
import pytest

from ledger.models import AccountKind
from ledger.services import house_account
from notifications.models import OutboxEvent
from payments.models import MobileMoneyPayment
from payments.services import mobile_money_poll
from payments.signature import signature_header
from tests.factories import UserFactory, emailed_code, fund_wallet
from tests.payments.conftest import WEBHOOK_PATH, WEBHOOK_SECRET, wait_for
from tests.wallet.helpers import (
    FAILING_PHONE,
    PHONE,
    api_for,
    assert_reconciles,
    balance,
    hold_balance,
    postings,
    withdraw,
)
from wallet.models import Withdrawal

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user():
    u = UserFactory()
    fund_wallet(u, "UGX", "500000")
    return u


def _withdraw_and_confirm(user, phone):
    api = api_for(user)
    w = withdraw(api, amount="200000", phone_number=phone)
    assert w.status_code == 201, w.json()
    r = api.post(
        f"/api/wallet/withdrawals/{w.json()['id']}/confirm",
        {"code": emailed_code(user.email)},
        format="json",
    )
    assert r.status_code == 200, r.json()
    return Withdrawal.objects.get(public_id=w.json()["id"])


def _status(withdrawal):
    return Withdrawal.objects.get(pk=withdrawal.pk).status


def _house(kind):
    account = house_account(kind=kind, currency="UGX")
    account.refresh_from_db()
    return account.balance


def test_a_withdrawal_to_a_phone_completes_and_the_books_say_so(sandbox, user):
    withdrawal = _withdraw_and_confirm(user, PHONE)
    wait_for(lambda: _status(withdrawal) == "completed")
    payment = MobileMoneyPayment.objects.get(reference=withdrawal.payout_reference)
    assert payment.direction == "payout" and payment.amount == D("198000")  # the net
    assert payment.trade_id is None
    assert balance(user) == D("300000")
    assert hold_balance() == 0
    assert _house(AccountKind.FEE_REVENUE) == D("2000")
    # Clearing took the net and paid Relworx's charge (booked by payments).
    assert _house(AccountKind.MOBILE_MONEY_CLEARING) > 0
    statuses = [
        e.payload["status"]
        for e in OutboxEvent.objects.filter(kind="withdrawal.updated", user_id=user.pk).order_by(
            "pk"
        )
    ]
    assert statuses == ["awaiting_confirmation", "processing", "completed"]
    (email,) = OutboxEvent.objects.filter(kind="email.withdrawal_completed")
    assert email.payload["to"] == user.email and "198,000" in email.payload["subject"]
    assert_reconciles()


def test_a_failed_payout_is_refunded_to_the_wallet(sandbox, user):
    withdrawal = _withdraw_and_confirm(user, FAILING_PHONE)
    wait_for(lambda: _status(withdrawal) == "failed")
    withdrawal.refresh_from_db()
    assert withdrawal.get_status_display() == "Failed — refunded to your wallet"
    assert withdrawal.failure_reason
    assert balance(user) == D("500000")  # the whole amount, fee included
    assert hold_balance() == 0
    assert postings(withdrawal.public_id, "return") == 1
    assert postings(withdrawal.public_id, "paid") == 0
    assert OutboxEvent.objects.filter(kind="email.withdrawal_failed").count() == 1
    assert_reconciles()


def _event(payment, status="failed"):
    return {
        "status": status,
        "message": "Payout rejected by the network.",
        "customer_reference": payment.reference,
        "internal_reference": payment.internal_reference,
        "amount": int(payment.amount),
        "currency": "UGX",
    }


def test_duplicate_webhooks_racing_polls_refund_exactly_once(relworx, user, live_server):
    # The sandbox's own webhooks go nowhere: we deliver them, several times,
    # while pollers ask Relworx for the same failed payout.
    withdrawal = _withdraw_and_confirm(user, FAILING_PHONE)
    wait_for(lambda: relworx.listing() and relworx.listing()[-1]["status"] == "failed")
    payment = MobileMoneyPayment.objects.get(reference=withdrawal.payout_reference)
    assert payment.internal_reference and _status(withdrawal) == "processing"
    body = _event(payment)
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}
    barrier = threading.Barrier(8)
    results = []

    def deliver():
        header = signature_header(key=WEBHOOK_SECRET, url=relworx.webhook_url, fields=fields)
        barrier.wait()
        r = httpx.post(
            f"{live_server.url}{WEBHOOK_PATH}",
            json=body,
            headers={"Relworx-Signature": header},
            timeout=20,
        )
        results.append(r.status_code)

    def poll():
        from django.db import connection

        barrier.wait()
        try:
            results.append(mobile_money_poll(payment_id=payment.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    threads += [threading.Thread(target=poll) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and results.count(200) == 4
    assert _status(withdrawal) == "failed"
    assert postings(withdrawal.public_id, "return") == 1
    assert balance(user) == D("500000")
    assert hold_balance() == 0
    assert OutboxEvent.objects.filter(kind="email.withdrawal_failed").count() == 1
    assert_reconciles()


def test_a_payout_waiting_for_an_answer_stays_processing_and_is_polled(
    make_sandbox, user, settings
):
    from datetime import timedelta

    from payments.tasks import mobile_money_poll_due

    make_sandbox()
    settings.RELWORX_POLL_AFTER = timedelta(0)
    withdrawal = _withdraw_and_confirm(user, "+256770000005")  # stays pending at Relworx
    assert mobile_money_poll_due() >= 1
    assert _status(withdrawal) == "processing"  # unknown: neither paid nor refunded
    assert balance(user) == D("300000") and hold_balance() == D("200000")
    assert postings(withdrawal.public_id, "return") == 0
    assert_reconciles()

"""Buying and selling with mobile money end to end: trading's services, our
payment method, the Relworx sandbox as a real local server, and its signed
webhooks delivered over real HTTP to the live test server."""

import json
import random
import threading
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.core import mail
from django.core.management import call_command

from dtexchange.errors import InvalidInput
from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import balance_get
from ledger.services import house_account
from notifications.models import OutboxEvent
from payments.models import MobileMoneyPayment
from payments.services import (
    mobile_money_poll,
    mobile_money_reconcile,
    payment_trades_expire,
)
from payments.signature import signature_header
from tests.factories import (
    UserFactory,
    confirm_payout_number,
    fund_reserves,
    fund_wallet,
    ledger_rows,
    set_prices,
)
from tests.payments.conftest import WEBHOOK_PATH, WEBHOOK_SECRET, wait_for
from trading.models import Trade, TradeStatus
from trading.services import trade_buy, trade_sell

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


@pytest.fixture
def user():
    return UserFactory()


def buy(user, number, amount="100000"):
    return trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal(amount),
        payment_method="mobile_money",
        payment_details={"phone_number": number},
    )


def status_of(trade, wanted=None):
    t = Trade.objects.get(pk=trade.pk)
    if wanted is None:
        return t if t.status in ("completed", "failed", "expired") else None
    return t if t.status == wanted else None


def clearing_balance():
    account = house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="UGX")
    account.refresh_from_db()
    return account.balance


def assert_reconciles():
    call_command("reconcile_ledger")  # raises CommandError when it does not


def settle_postings(trade):
    return LedgerTransaction.objects.filter(idempotency_key=f"trade:{trade.public_id}:settle")


@pytest.mark.parametrize("number", ["+256770000001", "+256700000001"])
def test_a_buy_completes_when_the_signed_webhook_arrives(sandbox, market, user, number):
    trade = buy(user, number)
    assert trade.instructions["message"] == "Approve the prompt on your phone"
    assert number[-9:] not in json.dumps(trade.payment_details)  # only encrypted at rest
    done = wait_for(lambda: status_of(trade))
    assert done.status == TradeStatus.COMPLETED
    assert list(done.status_changes.values_list("to_status", flat=True)) == [
        "pending",
        "processing",
        "completed",
    ]
    assert balance_get(user=user, currency="BTC") == done.crypto_amount > 0
    # The clearing account mirrors the Relworx wallet: the payment in, less Relworx's charge.
    charge = MobileMoneyPayment.objects.get(trade=done).charge
    assert charge > 0
    assert clearing_balance() == -done.fiat_amount + charge
    assert settle_postings(done).count() == 1
    assert_reconciles()


@pytest.mark.parametrize(
    ("number", "why"),
    [("+256770000002", "Insufficient funds"), ("+256700000002", "declined by the customer")],
)
def test_a_failed_payment_fails_the_trade_and_moves_no_money(sandbox, market, user, number, why):
    before = ledger_rows()
    trade = buy(user, number)
    done = wait_for(lambda: status_of(trade))
    assert done.status == TradeStatus.FAILED
    assert why in done.status_changes.last().reason
    assert ledger_rows() == before


def test_a_webhook_sent_twice_settles_once(sandbox, market, user):
    trade = buy(user, "+256770000004")
    wait_for(lambda: len(sandbox.deliveries) == 2)
    assert settle_postings(trade).count() == 1
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    assert_reconciles()


def test_polling_settles_a_trade_whose_webhook_never_came(sandbox, market, user, settings):
    settings.RELWORX_POLL_AFTER = timedelta(0)
    trade = buy(user, "+256770000003")
    time.sleep(0.5)
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.PROCESSING
    from payments.tasks import mobile_money_poll_due

    assert mobile_money_poll_due() == 1
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    assert mobile_money_poll_due() == 0  # nothing pending: safe to run again
    assert settle_postings(trade).count() == 1
    assert_reconciles()


def test_a_payment_after_the_trade_expired_goes_to_the_wallet(sandbox, market, user, settings):
    trade = buy(user, "+256770000003", amount="250000")
    settings.TRADE_PENDING_TTL = timedelta(0)
    assert payment_trades_expire() == [trade.pk]
    assert payment_trades_expire() == []  # safe to run twice
    time.sleep(0.4)
    payment = MobileMoneyPayment.objects.get(trade=trade)
    assert mobile_money_poll(payment_id=payment.pk) == "succeeded"
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.EXPIRED
    # The money is credited less the mobile-money fee (2.5 %, as a buy through
    # mobile money pays): closing the trade is no way round the fee.
    assert settings.FEE_RATES["mobile_money"] == Decimal("0.025")
    assert balance_get(user=user, currency="UGX") == Decimal("243750")
    assert house_account(kind="fee_revenue", currency="UGX").balance == Decimal("6250")
    assert balance_get(user=user, currency="BTC") == 0
    payment.refresh_from_db()
    assert payment.outcome == "wallet_credited"
    note = OutboxEvent.objects.get(kind="notification", user_id=user.pk)
    assert "UGX 243,750" in note.payload["body"]
    assert "UGX 6,250" in note.payload["body"]
    # ... and by the late-payment email, once.
    late = [m for m in mail.outbox if "late payment" in m.subject.lower()]
    assert len(late) == 1, [m.subject for m in mail.outbox]
    assert late[0].to == [user.email]
    assert "UGX 243,750" in late[0].body
    assert payment.reference in late[0].body
    assert_reconciles()


def test_a_payment_pending_forever_expires_its_trade(sandbox, market, user, settings):
    trade = buy(user, "+256770000005")
    time.sleep(0.4)
    settings.TRADE_PENDING_TTL = timedelta(0)
    payment_trades_expire()
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.EXPIRED
    payment = MobileMoneyPayment.objects.get(trade=trade)
    assert mobile_money_poll(payment_id=payment.pk) == "pending"  # still asked about later
    assert settle_postings(trade).count() == 0


def test_an_amount_mismatch_is_flagged_and_not_settled(sandbox, market, user):
    before = ledger_rows()
    trade = buy(user, "+256770000009")
    payment = wait_for(lambda: MobileMoneyPayment.objects.filter(trade=trade, flagged=True).first())
    assert "not settled" in payment.flag_reason
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.PROCESSING
    # Nothing settled: the only posting is Relworx's charge, which it took.
    assert ledger_rows() == (before[0] + 1, before[1] + 2)
    latest = LedgerTransaction.objects.order_by("-pk").first()
    assert latest.idempotency_key == f"momo:{payment.reference}:charge"


def _event(payment, status="success"):
    return {
        "status": status,
        "message": "ok",
        "customer_reference": payment.reference,
        "internal_reference": payment.internal_reference,
        "amount": int(payment.amount),
        "currency": "UGX",
        "msisdn": "+256770000005",
    }


def _post(live_server, body, header):
    return httpx.post(
        f"{live_server.url}{WEBHOOK_PATH}",
        json=body,
        headers={"Relworx-Signature": header},
        timeout=10,
    )


def _sign(url, body, key=WEBHOOK_SECRET, **kw):
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}
    return signature_header(key=key, url=url, fields=fields, **kw)


def test_forged_webhooks_write_no_ledger_rows(sandbox, market, user, live_server):
    trade = buy(user, "+256770000005")
    payment = MobileMoneyPayment.objects.get(trade=trade)
    before = ledger_rows()
    body = _event(payment)
    for header in (
        _sign(sandbox.webhook_url, body, key="attacker"),
        _sign(sandbox.webhook_url, body, timestamp=int(time.time()) - 73 * 3600),
        "t=1,v=" + "0" * 64,
    ):
        assert _post(live_server, body, header).status_code == 401
    # Signed "success" 10 minutes ago (a late retry): taken, but it only asks
    # the status check, which says pending: nothing moves.
    late = _sign(sandbox.webhook_url, body, timestamp=int(time.time()) - 600)
    assert _post(live_server, body, late).status_code == 200
    assert ledger_rows() == before
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.PROCESSING


def test_five_concurrent_out_of_order_deliveries_settle_once(sandbox, market, user, live_server):
    trade = buy(user, "+256770000003")  # succeeds at Relworx, which sends no webhook
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")
    payment = MobileMoneyPayment.objects.get(trade=trade)
    transactions_before = ledger_rows()[0]
    bodies = [_event(payment)] * 5 + [_event(payment, "pending")] * 2
    random.Random(4).shuffle(bodies)
    barrier = threading.Barrier(len(bodies))
    codes = []

    def deliver(body):
        header = _sign(sandbox.webhook_url, body)
        barrier.wait()
        codes.append(_post(live_server, body, header).status_code)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * len(bodies)
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    assert settle_postings(trade).count() == 1
    assert ledger_rows()[0] == transactions_before + 2  # the settlement and Relworx's charge
    assert_reconciles()


def _sell(user, number):
    fund_wallet(user, "BTC", "0.01")
    confirm_payout_number(user, number)  # payouts go only to confirmed numbers
    return trade_sell(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal("0.001"),
        payment_method="mobile_money",
        payment_details={"phone_number": number},
    )


def test_a_sell_paid_out_to_mobile_money_completes(sandbox, market, user):
    trade = _sell(user, "+256770000001")
    assert balance_get(user=user, currency="BTC") == Decimal("0.009")  # left at once
    done = wait_for(lambda: status_of(trade))
    assert done.status == TradeStatus.COMPLETED
    payout = MobileMoneyPayment.objects.get(trade=trade)
    assert payout.direction == "payout" and payout.amount == done.fiat_amount - done.fee_amount
    assert balance_get(user=user, currency="UGX") == 0
    assert_reconciles()


def test_a_failed_payout_returns_the_value_to_the_wallet(sandbox, market, user):
    trade = _sell(user, "+256770000006")
    done = wait_for(lambda: status_of(trade))
    assert done.status == TradeStatus.FAILED
    assert done.status_reason == "Failed — refunded to your wallet"
    assert balance_get(user=user, currency="UGX") == done.fiat_amount - done.fee_amount > 0
    assert clearing_balance() == 0
    assert_reconciles()


def test_reconciliation_applies_an_outcome_whose_effect_is_missing(sandbox, market, user):
    trade = buy(user, "+256770000005")
    payment = MobileMoneyPayment.objects.get(trade=trade)
    # As if a worker died between recording Relworx's answer and settling.
    MobileMoneyPayment.objects.filter(pk=payment.pk).update(
        status="succeeded", amount_received=payment.amount, outcome=""
    )
    assert mobile_money_reconcile()["effects_applied"] == 1
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    assert mobile_money_reconcile()["effects_applied"] == 0
    assert settle_postings(trade).count() == 1
    assert_reconciles()


@pytest.mark.parametrize(
    ("fiat", "details", "field"),
    [
        ("USD", {"phone_number": "+256770000001"}, "fiat_currency"),
        ("UGX", {"phone_number": "+256711234567"}, "payment_details.phone_number"),
        ("UGX", {}, "payment_details.phone_number"),
    ],
)
def test_bad_details_are_refused_before_anything_is_written(market, user, fiat, details, field):
    before = ledger_rows()
    with pytest.raises(InvalidInput) as exc:
        trade_buy(
            user=user,
            crypto_currency="BTC",
            fiat_currency=fiat,
            amount=Decimal("100000" if fiat == "UGX" else "50"),
            payment_method="mobile_money",
            payment_details=details,
        )
    assert field in exc.value.details
    assert Trade.objects.count() == 0 and MobileMoneyPayment.objects.count() == 0
    assert ledger_rows() == before

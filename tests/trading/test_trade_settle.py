"""The "Trades (owner: trading)" contract services, called directly as the
payments and vouchers apps will: settle, fail, expire, processing, payouts,
wallet credits."""

import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import balance_get
from ledger.services import house_account
from notifications.models import OutboxEvent
from tests.factories import (
    ExternalTestMethod,
    UserFactory,
    fund_reserves,
    fund_wallet,
    ledger_rows,
    set_prices,
)
from trading import payment_methods
from trading.models import Trade, TradeStatusChange
from trading.services import (
    TradeNotSettleable,
    fiat_wallet_credit,
    trade_buy,
    trade_complete_payout,
    trade_expire,
    trade_fail,
    trade_mark_processing,
    trade_refund_failed_payout,
    trade_sell,
    trade_settle_buy,
)

D = Decimal


def _clearing(currency="UGX"):
    return house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency=currency)


def _pending_buy(user, amount="100000", fiat="UGX"):
    return trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency=fiat,
        amount=D(amount),
        payment_method="test_external",
    )


@pytest.mark.django_db
def test_settle_buy_posts_once_and_is_idempotent(customer, prices, reserves, external_method):
    trade = _pending_buy(customer)
    assert trade.status == "pending"
    # fee 2.5% of 100000 = 2500; 97500 / 360000000 = 0.00027083 BTC
    assert (trade.fee_amount, trade.crypto_amount) == (D("2500"), D("0.00027083"))
    clearing = _clearing()
    rows = ledger_rows()

    settled = trade_settle_buy(
        trade_id=trade.pk, funding_account=clearing, actor="relworx", reason="payment succeeded"
    )
    assert settled.status == "completed" and settled.completed_at
    assert ledger_rows() == (rows[0] + 1, rows[1] + 5)
    assert balance_get(user=customer, currency="BTC") == D("0.00027083")
    assert _clearing().balance == D("-100000")
    assert house_account(kind=AccountKind.FEE_REVENUE, currency="UGX").balance == D("2500")

    again = trade_settle_buy(trade_id=trade.pk, funding_account=clearing, actor="poller")
    assert again.status == "completed"
    assert ledger_rows() == (rows[0] + 1, rows[1] + 5)
    change = TradeStatusChange.objects.filter(trade=trade).last()
    assert (change.to_status, change.actor, change.reason) == (
        "completed",
        "relworx",
        "payment succeeded",
    )


@pytest.mark.django_db
def test_settle_buy_with_another_amount_reprices_at_the_trades_rate(
    customer, prices, reserves, external_method
):
    trade = _pending_buy(customer)
    set_prices({("BTC", "UGX"): "720000000"})  # the market moved; the trade's rate holds
    settled = trade_settle_buy(
        trade_id=trade.pk, funding_account=_clearing(), amount_received=D("50000"), actor="relworx"
    )
    assert (settled.fiat_amount, settled.fee_amount) == (D("50000"), D("1250"))
    assert settled.crypto_amount == D("0.00013541")  # 48750 / 360000000, rounded down
    stored = Trade.objects.get(pk=trade.pk)
    assert stored.fiat_amount == D("50000") and stored.crypto_amount == D("0.00013541")
    assert balance_get(user=customer, currency="BTC") == D("0.00013541")
    assert _clearing().balance == D("-50000")


@pytest.mark.django_db
@pytest.mark.parametrize("end", ["fail", "expire", "cancel"])
def test_ended_trades_are_not_settleable(customer, prices, reserves, external_method, end):
    from trading.services.trades import trade_cancel

    trade = _pending_buy(customer)
    if end == "fail":
        trade_fail(trade_id=trade.pk, reason="declined", actor="relworx")
    elif end == "expire":
        assert trade_expire(trade_id=trade.pk).status == "expired"
    else:
        trade_cancel(trade=trade, user=customer)
    rows = ledger_rows()
    with pytest.raises(TradeNotSettleable):
        trade_settle_buy(trade_id=trade.pk, funding_account=_clearing(), actor="relworx")
    assert ledger_rows() == rows
    assert balance_get(user=customer, currency="BTC") == D("0")


@pytest.mark.django_db
def test_mark_processing_fail_expire_transitions(customer, prices, reserves, external_method):
    trade = _pending_buy(customer)
    assert trade_mark_processing(trade_id=trade.pk, actor="relworx").status == "processing"
    assert trade_mark_processing(trade_id=trade.pk, actor="relworx").status == "processing"
    failed = trade_fail(trade_id=trade.pk, reason="insufficient funds on phone", actor="relworx")
    assert failed.status == "failed"
    assert trade_fail(trade_id=trade.pk, reason="again", actor="relworx").status == "failed"
    assert trade_expire(trade_id=trade.pk) is None
    with pytest.raises(TradeNotSettleable):
        trade_mark_processing(trade_id=trade.pk, actor="x")
    history = list(
        TradeStatusChange.objects.filter(trade=trade).values_list("from_status", "to_status")
    )
    assert history == [("", "pending"), ("pending", "processing"), ("processing", "failed")]
    events = OutboxEvent.objects.filter(kind="trade.updated", user_id=customer.pk)
    assert [e.payload["status"] for e in events] == ["pending", "processing", "failed"]
    last = events.last().payload
    assert last["previous_status"] == "processing"
    assert last["reason"] == "insufficient funds on phone"
    assert set(last) >= {
        "trade_id",
        "status",
        "previous_status",
        "trade_type",
        "crypto_currency",
        "fiat_currency",
        "crypto_amount",
        "fiat_amount",
        "fee_amount",
        "fee_rate",
        "exchange_rate",
        "payment_method",
        "reference",
        "reason",
        "created_at",
        "updated_at",
    }
    assert not OutboxEvent.objects.filter(kind="activity").exists()


@pytest.mark.django_db
def test_sell_with_payout_moves_crypto_at_once_then_completes(
    customer, prices, reserves, external_method
):
    fund_wallet(customer, "BTC", "0.01")
    trade = trade_sell(
        user=customer,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=D("0.001"),
        payment_method="test_external",
    )
    # gross 360000; net = 360000 x 0.975 = 351000; fee 9000
    assert trade.status == "pending" and trade.instructions == {"message": "Payout on its way"}
    assert ("sell", trade.pk) in external_method.started
    assert balance_get(user=customer, currency="BTC") == D("0.009")
    assert _clearing().balance == D("351000")
    assert balance_get(user=customer, currency="UGX") == D("0")
    rows = ledger_rows()

    done = trade_complete_payout(trade_id=trade.pk, actor="relworx")
    assert done.status == "completed"
    assert trade_complete_payout(trade_id=trade.pk, actor="relworx").status == "completed"
    assert ledger_rows() == rows
    with pytest.raises(TradeNotSettleable):
        trade_refund_failed_payout(trade_id=trade.pk, reason="late failure", actor="relworx")


@pytest.mark.django_db
def test_failed_payout_is_refunded_to_the_wallet_once(customer, prices, reserves, external_method):
    fund_wallet(customer, "BTC", "0.01")
    trade = trade_sell(
        user=customer,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=D("0.001"),
        payment_method="test_external",
    )
    with pytest.raises(TradeNotSettleable):
        trade_fail(trade_id=trade.pk, reason="x", actor="relworx")  # must be refunded instead
    refunded = trade_refund_failed_payout(
        trade_id=trade.pk, reason="number not registered", actor="relworx"
    )
    assert refunded.status == "failed"
    assert refunded.status_reason == "Failed — refunded to your wallet"
    assert refunded.refund_transaction is not None
    assert balance_get(user=customer, currency="UGX") == D("351000")
    assert _clearing().balance == D("0")
    rows = ledger_rows()
    trade_refund_failed_payout(trade_id=trade.pk, reason="again", actor="relworx")
    assert ledger_rows() == rows
    assert balance_get(user=customer, currency="UGX") == D("351000")
    event = OutboxEvent.objects.filter(kind="trade.updated").last()
    assert event.payload["status_label"] == "Failed — refunded to your wallet"


@pytest.mark.django_db
def test_fiat_wallet_credit_is_idempotent(customer):
    clearing = _clearing()
    txn = fiat_wallet_credit(
        user=customer,
        currency="UGX",
        amount=D("25000"),
        funding_account=clearing,
        idempotency_key="late:RX-1",
        reason="Payment arrived after the trade expired.",
    )
    again = fiat_wallet_credit(
        user=customer,
        currency="UGX",
        amount=D("25000"),
        funding_account=clearing,
        idempotency_key="late:RX-1",
        reason="Payment arrived after the trade expired.",
    )
    assert again.pk == txn.pk
    assert balance_get(user=customer, currency="UGX") == D("25000")
    assert OutboxEvent.objects.filter(kind="notification", user_id=customer.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_completions_one_wins_one_posting():
    set_prices()
    fund_reserves()
    user = UserFactory()
    payment_methods.register(method := ExternalTestMethod.build())
    try:
        trades = [_pending_buy(user) for _ in range(5)]
        for trade in trades:
            barrier = threading.Barrier(2)
            outcomes = []

            def settle(trade=trade, barrier=barrier, outcomes=outcomes):
                try:
                    barrier.wait()
                    t = trade_settle_buy(
                        trade_id=trade.pk,
                        funding_account=_clearing(),
                        actor=f"worker:{threading.get_ident()}",
                    )
                    outcomes.append(t.status)
                finally:
                    connection.close()

            workers = [threading.Thread(target=settle) for _ in range(2)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            assert outcomes == ["completed", "completed"]
            assert LedgerTransaction.objects.filter(reference=trade.reference).count() == 1
            assert TradeStatusChange.objects.filter(trade=trade, to_status="completed").count() == 1
        assert balance_get(user=user, currency="BTC") == 5 * D("0.00027083")
        assert OutboxEvent.objects.filter(kind="activity").count() == 5
    finally:
        payment_methods.unregister(method.code)
    call_command("reconcile_ledger", stdout=StringIO())


@pytest.mark.django_db
def test_a_method_settling_by_trade_id_inside_buy(api, customer, prices, reserves):
    """Like the voucher method: start_buy settles through the public service
    (which re-reads and locks the trade) within the buy's transaction."""
    from trading.payment_methods import PaymentMethod

    class SettlesById(PaymentMethod):
        code = "test_by_id"
        name = "Settles by id"
        processing_time = "Instant"

        def fee_rate(self):
            return D("0.01")

        def limits(self, fiat):
            return (D("1"), D("1000000000"))

        def fiat_currencies(self):
            return ("UGX",)

        def start_buy(self, *, trade, details):
            trade_settle_buy(trade_id=trade.pk, funding_account=_clearing(), actor="voucher")
            return {"message": "Voucher redeemed"}

    payment_methods.register(SettlesById())
    try:
        r = api.post(
            "/api/trading/buy",
            {
                "crypto_currency": "BTC",
                "fiat_currency": "UGX",
                "amount": "100000",
                "payment_method": "test_by_id",
            },
            format="json",
        )
    finally:
        payment_methods.unregister("test_by_id")
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "completed"
    assert r.json()["instructions"] == {"message": "Voucher redeemed"}
    trade = Trade.objects.get(public_id=r.json()["id"])
    assert list(trade.status_changes.values_list("from_status", "to_status")) == [
        ("", "pending"),
        ("pending", "completed"),
    ]
    events = OutboxEvent.objects.filter(kind="trade.updated", user_id=customer.pk)
    assert [e.payload["status"] for e in events] == ["completed"]
    assert balance_get(user=customer, currency="BTC") == trade.crypto_amount

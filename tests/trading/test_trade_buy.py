"""POST /api/trading/buy with the methods that settle at once (balance, crypto)."""

from decimal import Decimal

import pytest

from ledger.models import AccountKind
from ledger.selectors import balance_get
from ledger.services import house_account
from notifications.models import OutboxEvent
from tests.factories import fund_wallet, ledger_rows
from trading.models import Trade, TradeStatusChange

pytestmark = pytest.mark.django_db
D = Decimal
URL = "/api/trading/buy"


def _balance(kind, currency):
    return house_account(kind=kind, currency=currency).balance


def test_buy_with_balance_settles_at_once(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "1000.00")
    reserve_btc = _balance(AccountKind.RESERVE, "BTC")

    r = api.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "USD",
            "amount": "500.00",
            "payment_method": "balance",
        },
        format="json",
    )

    assert r.status_code == 201, r.json()
    body = r.json()
    # fee 0.5% of 500.00 = 2.50; (500 - 2.50) / 100000 = 0.004975 BTC
    assert body["status"] == "completed"
    assert (body["fiat_amount"], body["fee_amount"], body["crypto_amount"]) == (
        "500.00",
        "2.50",
        "0.00497500",
    )
    assert body["fee_rate"] == "0.005" and body["exchange_rate"] == "100000"
    assert balance_get(user=customer, currency="USD") == D("500.00")
    assert balance_get(user=customer, currency="BTC") == D("0.00497500")
    assert _balance(AccountKind.FEE_REVENUE, "USD") == D("2.50")
    assert _balance(AccountKind.RESERVE, "BTC") == reserve_btc - D("0.004975")
    trade = Trade.objects.get(public_id=body["id"])
    assert trade.ledger_transaction is not None
    assert list(
        TradeStatusChange.objects.filter(trade=trade).values_list("from_status", "to_status")
    ) == [("", "pending"), ("pending", "completed")]
    kinds = list(
        OutboxEvent.objects.filter(kind__in=["trade.updated", "activity"]).values_list(
            "kind", flat=True
        )
    )
    assert kinds == ["trade.updated", "activity"]  # settled at once: one event
    completed = OutboxEvent.objects.filter(kind="trade.updated").last()
    assert completed.user_id == customer.pk
    assert completed.payload["status"] == "completed"
    assert completed.payload["previous_status"] == "pending"
    activity = OutboxEvent.objects.get(kind="activity")
    assert activity.user_id is None and "user" not in str(activity.payload)


def test_buy_with_crypto_swaps_through_the_reserves(api, customer, prices, reserves):
    fund_wallet(customer, "ETH", "2")
    r = api.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "USD",
            "amount": "1",
            "payment_method": "crypto",
            "payment_details": {"from_currency": "eth"},
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    # 1 ETH, fee 0.005 ETH; 0.995 ETH x 4000 / 100000 = 0.0398 BTC
    assert body["status"] == "completed"
    assert body["crypto_amount"] == "0.03980000"
    assert body["payment_details"]["from_currency"] == "ETH"
    assert body["payment_details"]["from_fee"] == "0.005000000000000000"
    assert body["fiat_amount"] == "4000.00" and body["fee_amount"] == "20.00"
    assert balance_get(user=customer, currency="ETH") == D("1")
    assert balance_get(user=customer, currency="BTC") == D("0.0398")
    assert _balance(AccountKind.FEE_REVENUE, "ETH") == D("0.005")


def test_buy_ugx_rounding_fiat_is_net_plus_fee(api, customer, prices, reserves):
    fund_wallet(customer, "UGX", "1000000")
    r = api.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "UGX",
            "amount": "123457",
            "payment_method": "balance",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    # fee = 617.285 rounded up to 618; net 122839; crypto = 122839/360000000 rounded down
    assert body["fee_amount"] == "618" and body["net_amount"] == "122839"
    assert D(body["fiat_amount"]) == D(body["net_amount"]) + D(body["fee_amount"])
    assert body["crypto_amount"] == "0.00034121"
    assert _balance(AccountKind.FEE_REVENUE, "UGX") == D("618")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "-5"}, 400, "invalid_input"),
        ({"amount": "0"}, 400, "invalid_input"),
        ({"amount": "abc"}, 400, "invalid_input"),
        ({"amount": "10.001"}, 400, "too_many_decimals"),
        ({"amount": "NaN"}, 400, "invalid_input"),
        ({"amount": "1e30"}, 400, "invalid_input"),
        ({"crypto_currency": "DOGE"}, 400, "unknown_currency"),
        ({"crypto_currency": "USD", "fiat_currency": "BTC"}, 400, "invalid_currency_pair"),
        ({"fiat_currency": "ETH"}, 400, "invalid_currency_pair"),
        ({"amount": "0.50"}, 400, "amount_below_minimum"),
        ({"amount": "50000.01"}, 400, "amount_above_maximum"),
        ({"payment_method": "cheque"}, 400, "unknown_payment_method"),
        ({"payment_method": "crypto"}, 400, "invalid_input"),
        (
            {"payment_method": "crypto", "payment_details": {"from_currency": "BTC"}},
            400,
            "invalid_from_currency",
        ),
        ({"amount": "900.00"}, 409, "insufficient_balance"),
    ],
)
def test_bad_buy_is_refused_and_writes_nothing(
    api, customer, prices, reserves, change, status, code
):
    fund_wallet(customer, "USD", "100.00")
    before = ledger_rows()
    data = {
        "crypto_currency": "BTC",
        "fiat_currency": "USD",
        "amount": "10.00",
        "payment_method": "balance",
        **change,
    }
    r = api.post(URL, data, format="json")
    assert r.status_code == status, r.json()
    assert r.json()["error"]["code"] == code
    assert ledger_rows() == before
    assert not Trade.objects.exists()
    assert balance_get(user=customer, currency="USD") == D("100.00")


def test_buy_the_reserve_cannot_cover_is_409_before_anything_is_charged(api, customer, prices):
    from tests.factories import fund_reserves

    fund_reserves({"BTC": "0.001"})
    fund_wallet(customer, "USD", "1000.00")
    before = ledger_rows()
    r = api.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "USD",
            "amount": "500.00",
            "payment_method": "balance",
        },
        format="json",
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "insufficient_liquidity"
    assert ledger_rows() == before
    assert not Trade.objects.exists()
    assert not OutboxEvent.objects.filter(kind="trade.updated").exists()
    assert balance_get(user=customer, currency="USD") == D("1000.00")


def test_buy_requires_authentication(anon, prices, reserves):
    r = anon.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "USD",
            "amount": "10",
            "payment_method": "balance",
        },
        format="json",
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


def test_an_outside_payment_is_not_started_for_a_buy_the_reserve_cannot_cover(
    api, customer, prices, external_method
):
    from tests.factories import fund_reserves

    fund_reserves({"BTC": "0.0001"})
    before = ledger_rows()
    r = api.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "UGX",
            "amount": "100000",
            "payment_method": "test_external",
        },
        format="json",
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "insufficient_liquidity"
    assert external_method.started == []  # no payment was requested
    assert ledger_rows() == before and not Trade.objects.exists()

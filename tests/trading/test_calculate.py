"""POST /api/trading/calculate and trading on a quote."""

from datetime import timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from rest_framework.test import APIClient

from tests.factories import UserFactory, fund_wallet, ledger_rows, set_prices
from trading.models import Quote, Trade

D = Decimal
pytestmark = pytest.mark.django_db
CALC = "/api/trading/calculate"
BUY = {
    "crypto_currency": "BTC",
    "fiat_currency": "USD",
    "amount": "500.00",
    "payment_method": "balance",
}


def _quote(client, **change):
    data = {**BUY, "trade_type": "buy", **change}
    return client.post(CALC, data, format="json")


def test_calculate_returns_a_stored_quote(api, customer, prices):
    r = _quote(api)
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["crypto_amount"] == "0.00497500"
    assert (body["fiat_amount"], body["fee_amount"], body["fee_rate"]) == (
        "500.00",
        "2.50",
        "0.005",
    )
    assert body["exchange_rate"] == "100000"
    quote = Quote.objects.get(pk=body["quote_id"])
    assert quote.user == customer
    assert (quote.expires_at - quote.created_at) == timedelta(seconds=30)
    assert body["expires_at"] == quote.expires_at.isoformat()


def test_calculate_anonymous_sell_and_swap(anon, prices):
    r = _quote(anon, trade_type="sell", amount="0.5", crypto_currency="ETH", fiat_currency="UGX")
    assert r.status_code == 200, r.json()
    assert r.json()["fiat_amount"] == "7200000" and r.json()["fee_amount"] == "36000"
    assert Quote.objects.get(pk=r.json()["quote_id"]).user is None
    r = _quote(anon, payment_method="crypto", amount="1", payment_details={"from_currency": "ETH"})
    assert r.status_code == 200, r.json()
    assert r.json()["crypto_amount"] == "0.03980000"
    assert r.json()["payment_details"]["cross_rate"] == "0.04"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": "-1"}, "invalid_input"),
        ({"amount": "0"}, "invalid_input"),
        ({"amount": "ten"}, "invalid_input"),
        ({"amount": "1.001"}, "too_many_decimals"),
        ({"trade_type": "hold"}, "invalid_input"),
        ({"crypto_currency": "XRP"}, "unknown_currency"),
        ({"crypto_currency": "USD", "fiat_currency": "BTC"}, "invalid_currency_pair"),
        ({"amount": "999999"}, "amount_above_maximum"),
        ({"payment_method": "crypto"}, "invalid_input"),
        ({"payment_method": "nope"}, "unknown_payment_method"),
    ],
)
def test_calculate_bad_input_is_400(api, prices, change, code):
    r = _quote(api, **change)
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == code
    assert not Quote.objects.exists()


def test_buy_on_a_quote_keeps_its_rate_when_the_price_moved_in_the_houses_favour(
    api, customer, prices, reserves
):
    # (A move against the house beyond QUOTE_PRICE_TOLERANCE is refused:
    # tests/security/test_quote_options.py.)
    fund_wallet(customer, "USD", "1000.00")
    quote_id = _quote(api).json()["quote_id"]
    set_prices({("BTC", "USD"): "50000"})
    r = api.post("/api/trading/buy", {**BUY, "quote_id": quote_id}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["crypto_amount"] == "0.00497500"
    assert r.json()["quote_id"] == quote_id
    again = api.post("/api/trading/buy", {**BUY, "quote_id": quote_id}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "quote_used"


def test_expired_quote_is_409_and_writes_nothing(api, customer, reserves):
    fund_wallet(customer, "USD", "1000.00")
    with freeze_time() as clock:
        set_prices()
        quote_id = _quote(api).json()["quote_id"]
        clock.tick(timedelta(seconds=31))
        set_prices()  # the price is fresh; only the quote is old
        before = ledger_rows()
        r = api.post("/api/trading/buy", {**BUY, "quote_id": quote_id}, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "quote_expired"
    assert ledger_rows() == before and not Trade.objects.exists()
    assert Quote.objects.get(pk=quote_id).used_at is None


def test_another_users_or_mismatching_quote_is_409(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "1000.00")
    other = APIClient()
    other.force_authenticate(UserFactory())
    foreign = _quote(other).json()["quote_id"]
    r = api.post("/api/trading/buy", {**BUY, "quote_id": foreign}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "quote_invalid"

    mine = _quote(api).json()["quote_id"]
    r = api.post("/api/trading/buy", {**BUY, "amount": "400.00", "quote_id": mine}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "quote_mismatch"
    r = api.post("/api/trading/sell", {**BUY, "amount": "0.001", "quote_id": mine}, format="json")
    assert r.status_code == 409
    r = api.post(
        "/api/trading/buy",
        {**BUY, "quote_id": "00000000-0000-0000-0000-000000000000"},
        format="json",
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "quote_invalid"
    assert not Trade.objects.exists()

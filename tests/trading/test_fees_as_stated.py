"""Each payment method charges the fee the product states, read
from settings by the real method objects — not a test double's rate."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.factories import (
    UserFactory,
    VoucherFactory,
    confirm_payout_number,
    fund_reserves,
    fund_wallet,
    set_prices,
)
from trading import payment_methods
from trading.services import trade_buy, trade_sell

pytestmark = pytest.mark.django_db
D = Decimal
STATED = {
    "mobile_money": D("0.025"),
    "bank_deposit": D("0.015"),
    "voucher": D("0.010"),
    "crypto": D("0.005"),
    "balance": D("0.005"),
}


def test_the_settings_and_the_registered_methods_carry_the_stated_rates(settings):
    assert settings.FEE_RATES == STATED
    for code, rate in STATED.items():
        assert payment_methods.get(code).fee_rate() == rate
    listed = APIClient().get("/api/trading/payment-methods").json()["payment_methods"]
    assert {m["id"]: D(m["fee_rate"]) for m in listed} == STATED


@pytest.mark.parametrize(
    ("method", "amount", "details", "fee"),
    [
        ("mobile_money", "1000000", {"phone_number": "+256770000001"}, "25000"),
        ("bank_deposit", "1000000", {}, "15000"),
        ("balance", "1000000", {}, "5000"),
        ("voucher", "50000", None, "500"),
    ],
)
def test_a_buy_through_each_method_charges_its_rate(method, amount, details, fee):
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "UGX", "2000000")
    if details is None:
        details = {"voucher_code": VoucherFactory(amount=amount, currency="UGX").plain_code}
    trade = trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=D(amount),
        payment_method=method,
        payment_details=details,
    )
    assert trade.fee_rate == STATED[method]
    assert trade.fee_amount == D(fee)
    assert trade.fiat_amount == D(amount)


def test_a_swap_charges_the_crypto_rate_on_the_coin_spent():
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "ETH", "2")
    trade = trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=D("1"),
        payment_method="crypto",
        payment_details={"from_currency": "ETH"},
    )
    assert trade.fee_rate == STATED["crypto"]
    assert D(trade.payment_details["from_fee"]) == D("0.005")


@pytest.mark.parametrize(("method", "fee"), [("balance", "1800"), ("mobile_money", "9000")])
def test_a_sell_through_each_method_charges_its_rate(method, fee):
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "BTC", "1")
    details = {"phone_number": "+256770000001"} if method == "mobile_money" else {}
    if details:
        confirm_payout_number(user, details["phone_number"])  # payouts: confirmed numbers only
    trade = trade_sell(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=D("0.001"),
        payment_method=method,
        payment_details=details,
    )
    assert trade.fee_rate == STATED[method]
    assert trade.fiat_amount == D("360000")
    assert trade.fee_amount == D(fee)

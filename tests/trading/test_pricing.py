"""Fee and amount arithmetic: never favours the user, never loses a unit."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtexchange.errors import InvalidInput
from ledger.money import has_valid_precision
from trading.services.pricing import buy_amounts, sell_amounts, swap_amounts

D = Decimal
RATES = [D("0.025"), D("0.015"), D("0.010"), D("0.005"), D("0")]


def test_buy_usd_example():
    a = buy_amounts(
        amount=D("99.99"), fee_rate=D("0.025"), price=D("97123.45"), crypto="BTC", fiat="USD"
    )
    # fee = 2.49975 -> 2.50 (up); net 97.49; 97.49 / 97123.45 = 0.001003774.. -> 0.00100377
    assert (a.fee_amount, a.net_fiat, a.crypto_amount) == (D("2.50"), D("97.49"), D("0.00100377"))


def test_sell_ugx_example():
    a = sell_amounts(
        amount=D("0.5"), fee_rate=D("0.015"), price=D("12245400.5"), crypto="ETH", fiat="UGX"
    )
    # gross 6122700.25 -> 6122700; net 6030859.74625 -> 6030859; fee 91841
    assert (a.fiat_amount, a.net_fiat, a.fee_amount) == (D("6122700"), D("6030859"), D("91841"))


def test_too_small_amounts_are_refused():
    with pytest.raises(InvalidInput):
        buy_amounts(
            amount=D("1"), fee_rate=D("0.005"), price=D("360000000000"), crypto="BTC", fiat="UGX"
        )
    with pytest.raises(InvalidInput):
        sell_amounts(amount=D("1"), fee_rate=D("0.005"), price=D("0.1"), crypto="TRX", fiat="UGX")


fiat_st = st.sampled_from(["USD", "UGX"])
crypto_st = st.sampled_from(["BTC", "ETH", "SOL", "TRX"])
price_st = st.decimals(min_value=D("0.01"), max_value=D("500000000"), places=4)


@settings(max_examples=300, deadline=None)
@given(
    fiat=fiat_st,
    crypto=crypto_st,
    price=price_st,
    rate=st.sampled_from(RATES),
    units=st.integers(min_value=1, max_value=10**12),
)
def test_buy_fiat_is_net_plus_fee_and_user_side_rounds_down(fiat, crypto, price, rate, units):
    amount = D(units).scaleb(-2 if fiat == "USD" else 0)
    try:
        a = buy_amounts(amount=amount, fee_rate=rate, price=price, crypto=crypto, fiat=fiat)
    except InvalidInput:
        return
    assert a.fiat_amount == a.net_fiat + a.fee_amount == amount
    assert a.fee_amount >= amount * rate  # the fee is never rounded in the user's favour
    assert a.crypto_amount * price <= a.net_fiat  # never more crypto than was paid for
    for value, code in ((a.fee_amount, fiat), (a.net_fiat, fiat), (a.crypto_amount, crypto)):
        assert has_valid_precision(value, code)


@settings(max_examples=300, deadline=None)
@given(
    fiat=fiat_st,
    crypto=crypto_st,
    price=price_st,
    rate=st.sampled_from(RATES),
    units=st.integers(min_value=1, max_value=10**15),
)
def test_sell_fiat_is_net_plus_fee_and_user_side_rounds_down(fiat, crypto, price, rate, units):
    places = {"BTC": 8, "ETH": 18, "SOL": 9, "TRX": 6}[crypto]
    amount = D(units).scaleb(-places)
    try:
        a = sell_amounts(amount=amount, fee_rate=rate, price=price, crypto=crypto, fiat=fiat)
    except InvalidInput:
        return
    assert a.fiat_amount == a.net_fiat + a.fee_amount
    assert a.fiat_amount <= amount * price  # gross never rounded up
    assert a.net_fiat <= amount * price * (1 - rate)  # the user's side rounds down
    assert a.fee_amount >= 0
    assert has_valid_precision(a.net_fiat, fiat) and has_valid_precision(a.fee_amount, fiat)


@settings(max_examples=200, deadline=None)
@given(price=price_st, from_price=price_st, units=st.integers(min_value=1, max_value=10**12))
def test_swap_spent_is_net_plus_fee(price, from_price, units):
    amount = D(units).scaleb(-6)
    try:
        s = swap_amounts(
            amount=amount,
            from_currency="TRX",
            crypto="BTC",
            fiat="USD",
            from_price=from_price,
            price=price,
            fee_rate=D("0.005"),
        )
    except InvalidInput:
        return
    assert s.from_amount == s.from_net + s.from_fee == amount
    assert s.from_fee >= amount * D("0.005")
    assert s.crypto_amount * price <= s.from_net * from_price
    assert s.fiat_amount == s.net_fiat + s.fee_amount

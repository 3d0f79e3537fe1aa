"""The amounts of a trade to the last unit, and every guard of
trading.services.pricing at its boundary: written so that mutmut's mutants
of an amount, a rate, a rounding or a guard fail here (see
benchmarks/README.md). The property tests beside it (test_pricing.py) check
the invariants over many inputs."""

from decimal import Decimal

import pytest

from dtexchange.errors import InvalidInput
from trading.services.pricing import buy_amounts, sell_amounts, swap_amounts

D = Decimal


def _too_small(call, what, **kwargs):
    """The call is refused as too small, saying what would round to nothing."""
    with pytest.raises(InvalidInput) as exc:
        call(**kwargs)
    assert exc.value.code == "amount_too_small"
    assert exc.value.status == 400
    assert list(exc.value.details) == ["amount"]
    assert what in exc.value.message
    return exc.value


def test_buy_every_amount_to_the_unit():
    a = buy_amounts(
        amount=D("100.129"),  # cut to the fiat's precision: 100.12
        fee_rate=D("0.025"),
        price=D("97123.456789012345"),
        crypto="BTC",
        fiat="USD",
    )
    assert a.fiat_amount == D("100.12")
    assert a.fee_amount == D("2.51")  # 2.503 rounded up: never in the user's favour
    assert a.net_fiat == D("97.61")
    assert a.crypto_amount == D("0.00100500")  # 97.61 / price, rounded down
    assert a.fee_rate == D("0.025")
    assert a.exchange_rate == D("97123.4567890123")  # ten places
    assert str(a.crypto_amount) == "0.00100500"


def test_buy_with_no_fee_and_the_smallest_amounts_that_still_trade():
    a = buy_amounts(amount=D("1"), fee_rate=D("0"), price=D("900"), crypto="TRX", fiat="UGX")
    assert (a.fiat_amount, a.fee_amount, a.net_fiat, a.crypto_amount) == (
        D("1"),
        D("0"),
        D("1"),
        D("0.001111"),
    )
    a = buy_amounts(amount=D("0.01"), fee_rate=D("0"), price=D("1"), crypto="TRX", fiat="USD")
    assert (a.net_fiat, a.crypto_amount) == (D("0.01"), D("0.01"))


def test_buy_refused_when_the_crypto_rounds_to_zero():
    # 100 UGX is left after the fee, but buys less than one satoshi.
    _too_small(
        buy_amounts,
        "BTC you receive",
        amount=D("100"),
        fee_rate=D("0"),
        price=D("360000000000"),
        crypto="BTC",
        fiat="UGX",
    )


def test_buy_refused_when_the_fee_takes_everything():
    _too_small(
        buy_amounts,
        "UGX left after the fee",
        amount=D("100"),
        fee_rate=D("1"),
        price=D("900"),
        crypto="TRX",
        fiat="UGX",
    )


def test_buy_refused_when_nothing_is_left_after_the_fee_even_if_the_price_is_wrong():
    # A negative price would make "crypto" positive from a negative net: the
    # net's own guard refuses it.
    _too_small(
        buy_amounts,
        "UGX left after the fee",
        amount=D("100"),
        fee_rate=D("2"),
        price=D("-900"),
        crypto="TRX",
        fiat="UGX",
    )


def test_sell_every_amount_to_the_unit():
    a = sell_amounts(
        amount=D("0.123456789"),  # cut to BTC's precision: 0.12345678
        fee_rate=D("0.015"),
        price=D("360000123.5"),
        crypto="BTC",
        fiat="UGX",
    )
    assert a.crypto_amount == D("0.12345678")
    assert a.fiat_amount == D("44444456")  # gross, rounded down
    assert a.net_fiat == D("43777789")  # gross x 0.985, rounded down
    assert a.fee_amount == D("666667")  # the exact remainder
    assert a.fee_rate == D("0.015")
    assert a.exchange_rate == D("360000123.5000000000")


def test_sell_usd_cents():
    a = sell_amounts(
        amount=D("0.5"), fee_rate=D("0.005"), price=D("3401.5"), crypto="ETH", fiat="USD"
    )
    # gross 1700.75; net 1700.75 x 0.995 = 1692.24625 -> 1692.24; fee 8.51
    assert (a.fiat_amount, a.net_fiat, a.fee_amount) == (D("1700.75"), D("1692.24"), D("8.51"))


def test_sell_the_smallest_net_that_still_trades():
    a = sell_amounts(
        amount=D("0.000001"), fee_rate=D("0"), price=D("1000000"), crypto="TRX", fiat="UGX"
    )
    assert (a.fiat_amount, a.net_fiat, a.fee_amount) == (D("1"), D("1"), D("0"))


def test_sell_refused_when_the_user_would_receive_nothing():
    _too_small(
        sell_amounts,
        "UGX you receive",
        amount=D("0.000001"),
        fee_rate=D("0"),
        price=D("0.5"),
        crypto="TRX",
        fiat="UGX",
    )


SWAP = {
    "amount": D("1000.1234567"),  # cut to TRX's precision: 1000.123456
    "from_currency": "TRX",
    "crypto": "BTC",
    "fiat": "USD",
    "from_price": D("0.25"),
    "price": D("100000.123456789012"),
    "fee_rate": D("0.005"),
}


def test_swap_every_amount_to_the_unit():
    s = swap_amounts(**SWAP)
    assert s.from_currency == "TRX"
    assert s.from_amount == D("1000.123456")
    assert s.from_fee == D("5.000618")  # 5.00061728 rounded up
    assert s.from_net == D("995.122838")
    assert s.crypto_amount == D("0.00248780")  # from_net x from_price / price, down
    assert s.cross_rate == D("0.0000025000")
    assert s.fiat_amount == D("250.03")  # what was spent, valued in fiat, down
    assert s.net_fiat == D("248.78")
    assert s.fee_amount == D("1.25")
    assert s.fee_rate == D("0.005")
    assert s.exchange_rate == D("100000.1234567890")


def test_swap_the_smallest_amounts_that_still_trade():
    s = swap_amounts(**{**SWAP, "amount": D("0.5")})
    assert (s.from_fee, s.from_net, s.crypto_amount) == (
        D("0.002500"),
        D("0.497500"),
        D("0.00000124"),
    )


@pytest.mark.parametrize("from_currency", ["BTC", "USD", "UGX"])
def test_swap_pays_with_another_coin_only(from_currency):
    with pytest.raises(InvalidInput) as exc:
        swap_amounts(**{**SWAP, "from_currency": from_currency})
    assert exc.value.code == "invalid_from_currency"
    assert exc.value.status == 400
    # What the customer reads in the error envelope, word for word.
    assert exc.value.message == "Pay with a different coin than the one you buy."
    assert exc.value.details == {
        "payment_details": {"from_currency": ["Must be another crypto currency."]}
    }


def test_swap_refused_when_the_coin_bought_rounds_to_zero():
    # No fee: 0.000001 TRX is left, worth less than one satoshi.
    _too_small(
        swap_amounts, "BTC you receive", **{**SWAP, "amount": D("0.000001"), "fee_rate": D("0")}
    )


def test_swap_refused_when_the_fee_takes_everything():
    _too_small(swap_amounts, "TRX left after the fee", **{**SWAP, "fee_rate": D("1")})


def test_swap_refused_when_nothing_is_left_after_the_fee_even_if_a_price_is_wrong():
    _too_small(
        swap_amounts,
        "TRX left after the fee",
        **{**SWAP, "fee_rate": D("2"), "price": D("-100000")},
    )

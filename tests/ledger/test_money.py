"""The money rules (ledger.money): currencies, precision, the one rounding
helper and its guards. Written to kill every mutant mutmut makes of them
that changes an amount, a rate, a rounding or a guard (see
benchmarks/README.md for the command and the score)."""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

import pytest

from ledger.money import (
    CRYPTO_CODES,
    CURRENCIES,
    CURRENCY_CHOICES,
    DECIMAL_PLACES,
    FIAT_CODES,
    MAX_DIGITS,
    RATE_PLACES,
    RATE_UNIT,
    UnknownCurrency,
    currency,
    fmt,
    has_valid_precision,
    quantize,
    quantize_rate,
    quantize_up,
)

D = Decimal


def test_the_currencies_their_precision_kind_and_symbol():
    assert {
        code: (c.name, c.precision, c.is_crypto, c.symbol) for code, c in CURRENCIES.items()
    } == {
        "BTC": ("Bitcoin", 8, True, "₿"),
        "ETH": ("Ethereum", 18, True, "Ξ"),
        "SOL": ("Solana", 9, True, ""),
        "TRX": ("Tron", 6, True, ""),
        "USD": ("US dollar", 2, False, "$"),
        "UGX": ("Ugandan shilling", 0, False, "UGX"),
    }
    assert CRYPTO_CODES == ("BTC", "ETH", "SOL", "TRX")
    assert FIAT_CODES == ("USD", "UGX")
    assert [code for code, _ in CURRENCY_CHOICES] == list(CURRENCIES)
    assert all(code == label for code, label in CURRENCY_CHOICES)
    assert (MAX_DIGITS, DECIMAL_PLACES, RATE_PLACES) == (38, 18, 10)
    assert str(RATE_UNIT) == "1E-10"


@pytest.mark.parametrize(
    ("code", "unit"),
    [
        ("BTC", "0.00000001"),
        ("ETH", "0.000000000000000001"),
        ("SOL", "0.000000001"),
        ("TRX", "0.000001"),
        ("USD", "0.01"),
        ("UGX", "1"),
    ],
)
def test_unit_is_one_of_the_smallest_amount(code, unit):
    assert currency(code).unit == D(unit)
    assert str(currency(code).unit) == str(D(1).scaleb(-currency(code).precision))


def test_fiat_is_the_opposite_of_crypto():
    assert [c.is_fiat for c in CURRENCIES.values()] == [False, False, False, False, True, True]


def test_currency_reads_any_case_and_refuses_unknown_codes():
    assert currency("btc") is CURRENCIES["BTC"]
    assert currency("Ugx").code == "UGX"
    with pytest.raises(UnknownCurrency, match="'DOGE'"):
        currency("DOGE")
    assert issubclass(UnknownCurrency, ValueError)


def test_quantize_rounds_down_to_the_currency_by_default():
    assert quantize(D("1.239"), "USD") == D("1.23")
    assert quantize(D("-1.239"), "USD") == D("-1.23")
    assert quantize(D("250000.99"), "UGX") == D("250000")
    assert quantize(D("0.123456789"), "BTC") == D("0.12345678")
    assert str(quantize(D("5"), "USD")) == "5.00"  # exactly the currency's places


def test_quantize_takes_another_rounding_when_told():
    assert quantize(D("1.235"), "USD", rounding=ROUND_HALF_UP) == D("1.24")


def test_quantize_up_rounds_up():
    assert quantize_up(D("1.231"), "USD") == D("1.24")
    assert quantize_up(D("1.23"), "USD") == D("1.23")
    assert quantize_up(D("0.000000001"), "BTC") == D("0.00000001")


def test_quantize_keeps_every_digit_of_the_widest_amount():
    # NUMERIC(38, 18): 20 integer digits and 18 decimals, 38 digits in all;
    # the default context (28 digits) would refuse or round it.
    widest = D("99999999999999999999.999999999999999999")
    assert quantize(widest, "ETH") == widest
    assert quantize(widest, "UGX") == D("99999999999999999999")
    assert quantize_up(widest, "UGX") == D("100000000000000000000")
    # 42 integer digits + 18 decimals = 60 digits: still exact.
    big = D("1" * 42 + "." + "1" * 18)
    assert quantize(big, "ETH") == big
    # 61 digits are beyond the rounding context: refused, never rounded.
    with pytest.raises(InvalidOperation):
        quantize(D("1" * 43), "ETH")


@pytest.mark.parametrize("bad", [1.5, 1, "1.5", None])
def test_money_must_be_decimal(bad):
    # The message names the type the caller passed: the bug report it points to.
    said = f"money must be Decimal, not {type(bad).__name__}"
    with pytest.raises(TypeError) as exc:
        quantize(bad, "USD")
    assert str(exc.value) == said
    with pytest.raises(TypeError) as exc:
        quantize_up(bad, "USD")
    assert str(exc.value) == said


def test_has_valid_precision():
    assert has_valid_precision(D("1.23"), "USD")
    assert has_valid_precision(D("1.2"), "USD")
    assert has_valid_precision(D("5"), "UGX")
    assert not has_valid_precision(D("1.231"), "USD")
    assert not has_valid_precision(D("5.5"), "UGX")
    assert has_valid_precision(D("0.000000000000000001"), "ETH")
    assert not has_valid_precision(D("0.0000000001"), "BTC")
    # 42 integer digits + 18 decimals fit the 60-digit context; 43 do not.
    assert has_valid_precision(D("1" * 42 + "." + "1" * 18), "ETH")
    assert not has_valid_precision(D("1" * 43), "ETH")
    assert not has_valid_precision(D("NaN"), "USD")


def test_fmt_shows_the_display_precision_and_refuses_unknown_codes():
    assert fmt(D("1234.567"), "USD") == "$1,234.56"
    assert fmt(D("0.024060331683170350"), "ETH") == "0.02406033 ETH"
    with pytest.raises(UnknownCurrency):
        fmt(D("1"), "XYZ")


def test_quantize_rate_keeps_ten_places_half_even():
    assert quantize_rate(D("0.24987654321")) == D("0.2498765432")
    assert quantize_rate(D("0.12345678905")) == D("0.1234567890")  # half to even: down
    assert quantize_rate(D("0.12345678915")) == D("0.1234567892")  # half to even: up
    assert quantize_rate(D("0.123456789051")) == D("0.1234567891")  # above half: up
    assert str(quantize_rate(D("3"))) == "3.0000000000"


def test_quantize_rate_rounds_half_even_whatever_the_callers_context():
    with localcontext(rounding=ROUND_HALF_UP):
        assert quantize_rate(D("0.12345678905")) == D("0.1234567890")
    with localcontext(rounding=ROUND_DOWN):
        assert quantize_rate(D("0.12345678915")) == D("0.1234567892")


def test_quantize_rate_keeps_every_digit_of_a_wide_rate():
    # 40 integer digits + 10 places = 50 digits: beyond the default 28.
    wide = D("1" * 40 + ".1234567890")
    assert quantize_rate(wide) == wide
    # 51 integer digits + 10 places = 61 digits: refused, never rounded.
    with pytest.raises(InvalidOperation):
        quantize_rate(D("1" * 51))
    assert quantize_rate(D("1" * 50)) == D("1" * 50)


@pytest.mark.parametrize("bad", [0.25, 1, "0.25"])
def test_rates_must_be_decimal(bad):
    with pytest.raises(TypeError) as exc:
        quantize_rate(bad)
    assert str(exc.value) == f"rates must be Decimal, not {type(bad).__name__}"

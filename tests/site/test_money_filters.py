from decimal import Decimal

import pytest
from django.template import Context, Template

from trading.templatetags.site_tags import money, money_plain, status_text


@pytest.mark.parametrize(
    ("amount", "code", "shown"),
    [
        (Decimal("250000"), "UGX", "UGX 250,000"),
        ("250000.9", "UGX", "UGX 250,000"),  # UGX has no minor unit; rounded down
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("0.00125"), "BTC", "0.00125000 BTC"),
        ("12.3456789", "TRX", "12.345678 TRX"),
        (None, "USD", "—"),
        ("not a number", "USD", "—"),
    ],
)
def test_money_shows_currency_separators_and_precision(amount, code, shown):
    assert money(amount, code) == shown


def test_money_refuses_a_float():
    with pytest.raises(TypeError):
        money(1.5, "USD")


def test_money_plain_drops_the_currency():
    assert money_plain(Decimal("1234567"), "UGX") == "1,234,567"
    assert money_plain(Decimal("1234.5"), "USD") == "1,234.50"
    assert money_plain(Decimal("1.5"), "BTC") == "1.50000000"


def test_filters_in_a_template():
    out = Template('{% load site_tags %}{{ a|money:"UGX" }} / {{ b|money:c }}').render(
        Context({"a": Decimal("5000000"), "b": Decimal("0.1"), "c": "ETH"})
    )
    assert out == "UGX 5,000,000 / 0.10000000 ETH"  # ETH shows 8 decimals


@pytest.mark.parametrize(
    ("status", "trade_type", "method", "text"),
    [
        ("pending", "buy", "mobile_money", "Approve the prompt on your phone"),
        ("pending", "buy", "voucher", "Waiting for your payment"),
        ("processing", "buy", "bank_deposit", "Under review by our team"),
        ("processing", "buy", "mobile_money", "Approve the prompt on your phone"),
        ("completed", "buy", "voucher", "Completed"),
        ("failed", "buy", "mobile_money", "Failed — nothing was charged"),
        ("failed", "sell", "mobile_money", "Failed — refunded to your wallet"),
    ],
)
def test_status_in_plain_words(status, trade_type, method, text):
    assert status_text(status=status, trade_type=trade_type, payment_method=method) == text

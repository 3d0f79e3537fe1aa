"""Template filters of the customer site: money and status in words a person
reads . Display only: amounts follow dtexchange.display's rules."""

from django import template

from dtexchange.display import (
    display_approx,
    display_money,
    display_number,
    display_percent,
    to_decimal,
)
from ledger.money import UnknownCurrency, currency

register = template.Library()

_decimal = to_decimal


@register.filter
def money(value, code: str) -> str:
    """``{{ amount|money:"UGX" }}`` → ``UGX 250,000``; ``$1,234.50``;
    ``0.00125000 BTC`` (display precision, cut). An empty or unreadable amount
    shows a dash."""
    return display_money(value, code)


@register.filter
def money_plain(value, code: str) -> str:
    """The number alone, with separators and the display precision (for
    inputs and tables whose column header names the currency)."""
    return display_number(value, code)


# Status language . Keep in step with static/js/status.js.
_PENDING_BY_METHOD = {
    "mobile_money": "Approve the prompt on your phone",
    "bank_deposit": "Waiting for your bank transfer",
}
_PROCESSING_BY_METHOD = {
    "bank_deposit": "Under review by our team",
    "mobile_money": "Approve the prompt on your phone",
}


def status_text(*, status: str, trade_type: str = "buy", payment_method: str = "") -> str:
    if status == "pending":
        if trade_type == "sell":
            return "Sending your money"
        return _PENDING_BY_METHOD.get(payment_method, "Waiting for your payment")
    if status == "processing":
        if trade_type == "sell":
            return "Sending your money"
        return _PROCESSING_BY_METHOD.get(payment_method, "Processing")
    if status == "completed":
        return "Completed"
    if status == "failed":
        if trade_type == "sell":
            return "Failed — refunded to your wallet"
        return "Failed — nothing was charged"
    if status == "cancelled":
        return "Cancelled — nothing was charged"
    if status == "expired":
        return "Expired — nothing was charged"
    return status.capitalize()


@register.filter
def trade_status(trade) -> str:
    """A trade (model or dict) → its status in plain words."""

    def get(name, default=""):
        if isinstance(trade, dict):
            return trade.get(name, default)
        return getattr(trade, name, default)

    return status_text(
        status=get("status"),
        trade_type=get("trade_type", "buy"),
        payment_method=get("payment_method", ""),
    )


@register.filter
def is_crypto(code: str) -> bool:
    try:
        return currency(code).is_crypto
    except UnknownCurrency:
        return False


@register.filter
def percent(rate) -> str:
    """``"0.025"`` → ``2.5%`` (fee rates are decimal fractions; the same rule
    as format.js's ``percent``)."""
    return display_percent(rate)


@register.filter
def approx(value, code: str) -> str:
    """A rounded public amount as published (``0.001 BTC``, ``12,000 TRX``):
    separators, cut to the display precision, no padding zeros that would
    suggest an exact figure."""
    return display_approx(value, code)

"""Template filters of the customer site: money and status in words a person
reads (DESIGN 9). Display only; all rounding goes through ledger.money."""

from decimal import Decimal, InvalidOperation

from django import template

from ledger.money import UnknownCurrency, currency, fmt

register = template.Library()

DASH = "—"


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # never expected: money is Decimal end to end
        raise TypeError("money must not be a float")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def money(value, code: str) -> str:
    """``{{ amount|money:"UGX" }}`` → ``UGX 250,000``; ``$1,234.50``;
    ``0.00125000 BTC``. An empty or unreadable amount shows a dash."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    try:
        return fmt(amount, code)
    except UnknownCurrency:
        return f"{amount} {code}"


@register.filter
def money_plain(value, code: str) -> str:
    """The number alone, with separators and the currency's precision (for
    inputs and tables whose column header names the currency)."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    try:
        cur = currency(code)
    except UnknownCurrency:
        return str(amount)
    text = fmt(amount, code)
    return text.replace("$", "").replace(f"{cur.code} ", "").replace(f" {cur.code}", "")


# Status language (DESIGN 9). Keep in step with static/js/status.js.
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
    """``"0.025"`` → ``2.5%`` (fee rates are decimal fractions)."""
    value = _decimal(rate)
    if value is None:
        return DASH
    text = format((value * 100).normalize(), "f")
    return f"{text}%"


@register.filter
def approx(value, code: str) -> str:
    """A rounded public amount as published (``0.001 BTC``, ``12,000 TRX``):
    separators, but no padding zeros that would suggest an exact figure."""
    amount = _decimal(value)
    if amount is None:
        return DASH
    return f"{amount:,f} {code}"

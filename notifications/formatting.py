"""Display of amounts, rates and times in emails and messages.

Amounts arrive as exact decimal strings; they are shown by the project's one
set of display rules (dtexchange.display): the currency's display precision,
cut, never rounded up, with thousands separators.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from dtexchange.display import display_money, to_decimal

METHOD_LABELS = {
    "mobile_money": "Mobile money",
    "bank_deposit": "Bank deposit",
    "voucher": "Voucher",
    "crypto": "Crypto",
    "balance": "Wallet balance",
}


def number(value) -> str:
    """Thousands separators; trailing zeros dropped (percentages, counts)."""
    amount = to_decimal(value)
    if amount is None:
        return str(value or "")
    text = f"{amount:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value, code: str) -> str:
    """``UGX 250,000``, ``$1,234.50``, ``0.00125000 BTC``; empty for no amount."""
    if to_decimal(value) is None:
        return str(value or "")
    return display_money(value, code)


def percent(rate) -> str:
    value = to_decimal(rate)
    if value is None:
        return ""
    return f"{number(value * 100)}%"


def method_label(code: str) -> str:
    return METHOD_LABELS.get(code or "", (code or "").replace("_", " ").capitalize())


def when(value) -> str:
    """An ISO 8601 time shown in the site's time zone, e.g. 25 Nov 2026, 14:05 EAT."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    return moment.strftime("%d %b %Y, %H:%M %Z").strip()

"""Display of amounts, rates and times in emails and messages.

Amounts arrive as decimal strings already rounded by trading; display never
rounds them again. It only drops the storage's trailing zeros (NUMERIC(38, 18))
down to the currency's usual places and adds thousands separators.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings

# Usual decimal places per currency for display (DESIGN 3). notifications
# imports no other app, so it keeps this small table of its own.
DISPLAY_PLACES = {"USD": 2, "UGX": 0, "BTC": 8, "ETH": 18, "SOL": 9, "TRX": 6}
FIAT = {"USD", "UGX"}
METHOD_LABELS = {
    "mobile_money": "Mobile money",
    "bank_deposit": "Bank deposit",
    "voucher": "Voucher",
    "crypto": "Crypto",
    "balance": "Wallet balance",
}


def to_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def number(value, min_places: int = 0) -> str:
    """Thousands separators; trailing zeros dropped down to ``min_places``."""
    amount = to_decimal(value)
    if amount is None:
        return str(value or "")
    text = format(amount, "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if len(frac) < min_places:
        frac = frac.ljust(min_places, "0")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or '0'):,}"
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def money(value, code: str) -> str:
    """``UGX 250,000``, ``$1,234.50``, ``0.00125000 BTC``."""
    code = (code or "").upper()
    shown = number(value, DISPLAY_PLACES.get(code, 0))
    if code == "USD":
        return f"-${shown[1:]}" if shown.startswith("-") else f"${shown}"
    if code in FIAT:
        return f"{code} {shown}"
    return f"{shown} {code}".strip()


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

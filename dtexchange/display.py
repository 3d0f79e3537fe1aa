"""Amounts as people read them: the one set of display rules of the server.

The API and the ledger keep exact amounts (decimal strings at the currency's
precision, e.g. 18 decimals of ETH); pages, emails and messages show them at
a *display* precision per currency, with thousands separators and the
currency: ``UGX 250,000``, ``$1,234.50``, ``0.00125000 BTC``. A shown amount
is cut (rounded toward zero), never rounded up, so a page never shows more
than there is. A rate (fiat per unit of crypto) is shown in its fiat's
display precision: ``1 ETH = UGX 12,281,626``. A fee rate (a decimal
fraction) is shown as its exact percent, without padding zeros: ``0.025`` is
``2.5%``, ``0.0125`` is ``1.25%`` (never rounded: the fee shown is the fee
charged).

``static/js/format.js`` applies the same rules to live values in the browser;
tests/site/test_display_agreement.py runs both on the same inputs.

This module is in the project package (not an app) so that every app may use
it, ``notifications`` included, which imports no app.
"""

import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext

DISPLAY_PRECISION: dict[str, int] = {
    "BTC": 8,
    "ETH": 8,
    "SOL": 6,
    "TRX": 6,
    "UGX": 0,
    "USD": 2,
}
FIAT_CODES = frozenset({"UGX", "USD"})
# A code we do not know shows its digits up to this many decimals, cut, with
# no padding zeros.
UNKNOWN_PLACES = 18
DASH = "—"
# What a decimal string may look like (the same test in format.js): no
# "1_000", no "Infinity", no hex.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def to_decimal(value) -> Decimal | None:
    """A Decimal from a Decimal, an int or a decimal string; None for empty or
    unreadable input. A float is refused: money never passes through one."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    text = str(value).strip()
    if not _DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def display_places(code: str) -> int | None:
    """Decimals shown for ``code``; None for a code we do not know."""
    return DISPLAY_PRECISION.get((code or "").upper())


def _cut(amount: Decimal, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 80  # NUMERIC(38, 18) and then some: cutting never rounds elsewhere
        cut = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
        return cut.copy_abs() if cut.is_zero() else cut  # never "-0.00"


def _strip_zeros(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def display_number(value, code: str) -> str:
    """The number alone: separators, the display precision of ``code``, cut."""
    amount = to_decimal(value)
    if amount is None:
        return DASH
    places = display_places(code)
    if places is None:
        return _strip_zeros(f"{_cut(amount, UNKNOWN_PLACES):,f}")
    return f"{_cut(amount, places):,.{places}f}"


def display_money(value, code: str) -> str:
    """``UGX 250,000``, ``$1,234.50``, ``-$5.00``, ``0.00125000 BTC``; a dash
    for an empty or unreadable amount."""
    code = (code or "").upper()
    text = display_number(value, code)
    if text == DASH:
        return DASH
    if code == "USD":
        return f"-${text[1:]}" if text.startswith("-") else f"${text}"
    if code in FIAT_CODES:
        return f"{code} {text}"
    return f"{text} {code}".strip()


def display_rate(rate, *, crypto: str, fiat: str) -> str:
    """``1 ETH = UGX 12,281,626``: the rate in its fiat's display precision."""
    return f"1 {crypto} = {display_money(rate, fiat)}"


def display_approx(value, code: str) -> str:
    """A rounded public figure as published (``0.001 BTC``, ``12,000 TRX``):
    cut to the display precision, without padding zeros that would suggest an
    exact amount."""
    amount = to_decimal(value)
    if amount is None:
        return DASH
    places = display_places(code)
    text = _strip_zeros(f"{_cut(amount, UNKNOWN_PLACES if places is None else places):,f}")
    return f"{text} {(code or '').upper()}".strip()


# A rate has at most 18 decimals (NUMERIC(38, 18)): as a percent, 16.
PERCENT_PLACES = 16


def display_percent(rate) -> str:
    """A fee rate as a percent: ``"0.025"`` → ``2.5%``, exact, no separators,
    no padding zeros; a dash for an empty or unreadable rate."""
    fraction = to_decimal(rate)
    if fraction is None:
        return DASH
    return f"{_strip_zeros(f'{_cut(fraction.scaleb(2), PERCENT_PLACES):f}')}%"

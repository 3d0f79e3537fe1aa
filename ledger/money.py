"""Currencies and the one place that rounds money.

Amounts are Decimal end to end. ``quantize`` is the only rounding helper and
rounds down by default, so the user's side never gains a unit it was not paid
for; fees are taken as the exact remainder (``fiat == net + fee``).
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal, InvalidOperation, localcontext

from dtexchange.display import display_money


@dataclass(frozen=True)
class Currency:
    code: str
    name: str
    precision: int
    is_crypto: bool
    symbol: str = ""

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.precision)

    @property
    def is_fiat(self) -> bool:
        return not self.is_crypto


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("BTC", "Bitcoin", 8, True, "₿"),
        Currency("ETH", "Ethereum", 18, True, "Ξ"),
        Currency("SOL", "Solana", 9, True),
        Currency("TRX", "Tron", 6, True),
        Currency("USD", "US dollar", 2, False, "$"),
        Currency("UGX", "Ugandan shilling", 0, False, "UGX"),
    )
}
CRYPTO_CODES = tuple(code for code, c in CURRENCIES.items() if c.is_crypto)
FIAT_CODES = tuple(code for code, c in CURRENCIES.items() if c.is_fiat)
CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]

# NUMERIC(38, 18) in the database: 20 integer digits, 18 decimals.
MAX_DIGITS = 38
DECIMAL_PLACES = 18


class UnknownCurrency(ValueError):
    pass


def currency(code: str) -> Currency:
    try:
        return CURRENCIES[str(code).upper()]
    except KeyError:
        raise UnknownCurrency(f"Unknown currency {code!r}.") from None


def quantize(amount: Decimal, code: str, *, rounding: str = ROUND_DOWN) -> Decimal:
    """Round ``amount`` to the precision of ``code``; down unless told otherwise."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    with localcontext() as ctx:
        ctx.prec = 60  # wide enough for NUMERIC(38, 18) products
        return amount.quantize(currency(code).unit, rounding=rounding)


def quantize_up(amount: Decimal, code: str) -> Decimal:
    return quantize(amount, code, rounding=ROUND_UP)


def has_valid_precision(amount: Decimal, code: str) -> bool:
    """True if ``amount`` has no more decimals than ``code`` allows."""
    try:
        with localcontext() as ctx:
            ctx.prec = 60  # NUMERIC(38, 18) has more digits than the default 28
            return amount == amount.quantize(currency(code).unit)
    except InvalidOperation:
        return False


def fmt(amount: Decimal, code: str) -> str:
    """Human display (pages, emails, messages): dtexchange.display's rules,
    the currency's display precision, cut, never rounded up."""
    currency(code)  # an unknown code is a bug here
    return display_money(amount, code)


# Exchange rates (a price of one unit of crypto in fiat, a cross rate) are
# not amounts of money but are rounded in one place too: 10 decimals keep
# TRX/USD (~0.25) exact to far below one unit of any amount derived from it.
RATE_PLACES = 10
RATE_UNIT = Decimal(1).scaleb(-RATE_PLACES)


def quantize_rate(rate: Decimal) -> Decimal:
    if not isinstance(rate, Decimal):
        raise TypeError(f"rates must be Decimal, not {type(rate).__name__}")
    with localcontext() as ctx:
        ctx.prec = 60
        return rate.quantize(RATE_UNIT, rounding=ROUND_HALF_EVEN)

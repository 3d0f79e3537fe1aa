"""Quotes, and the one path that validates a trade request and prices it.

``trade_price`` is shared by ``calculate`` (a quote) and by buy/sell (a trade),
so a quote and the trade made on it can never disagree on the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from dtexchange.errors import InvalidInput
from ledger.money import CRYPTO_CODES, FIAT_CODES, UnknownCurrency, currency, has_valid_precision
from trading import payment_methods
from trading.errors import PriceMoved, QuoteExpired, QuoteInvalid, QuoteMismatch, QuoteUsed
from trading.formatting import rate_str
from trading.models.quotes import Quote
from trading.payment_methods import PaymentMethod
from trading.services.prices import price_check_fresh, price_get, prices_get_all
from trading.services.pricing import buy_amounts, sell_amounts, swap_amounts

# A quote is built on, and executed against, a price fresh enough to give away.
_fresh = price_check_fresh


def _moved_against_house(*, quoted: Decimal, now: Decimal, house_loses_if_higher: bool) -> bool:
    tolerance = settings.QUOTE_PRICE_TOLERANCE
    if house_loses_if_higher:
        return now > quoted * (1 + tolerance)
    return now < quoted * (1 - tolerance)


def _quote_price_check(quote: Quote) -> None:
    """Executing a quote: the current price must be fresh and must not have
    moved against the house by more than QUOTE_PRICE_TOLERANCE since the
    quote (a quote is an option the house gives away; within the tolerance
    the quoted rate holds, beyond it the caller gets a new quote). A move in
    the customer's disfavour keeps the quoted rate. PriceMoved (409)."""
    snapshot = prices_get_all()
    price = _fresh(
        price_get(crypto=quote.crypto_currency, fiat=quote.fiat_currency, snapshot=snapshot)
    )
    if quote.from_currency:
        # A swap: the customer gets more of the coin bought the higher the
        # cross rate (bought coin per coin spent).
        from_price = _fresh(
            price_get(crypto=quote.from_currency, fiat=quote.fiat_currency, snapshot=snapshot)
        )
        quoted, now = Decimal(quote.details["cross_rate"]), from_price.price / price.price
        moved = _moved_against_house(quoted=quoted, now=now, house_loses_if_higher=False)
    else:
        # Buy: the house sells crypto at the quoted rate (loses if it rose);
        # sell: the house buys it (loses if it fell).
        quoted, now = quote.exchange_rate, price.price
        moved = _moved_against_house(
            quoted=quoted, now=now, house_loses_if_higher=quote.trade_type == "buy"
        )
    if moved:
        raise PriceMoved(
            details={
                "quote_id": str(quote.pk),
                "quoted_rate": rate_str(quoted),
                "current_rate": rate_str(now),
                "tolerance": str(settings.QUOTE_PRICE_TOLERANCE),
            }
        )


@dataclass(frozen=True)
class PricedTrade:
    """Everything a trade needs from its price, validated."""

    trade_type: str
    crypto_currency: str
    fiat_currency: str
    payment_method: str
    amount: Decimal  # as asked
    crypto_amount: Decimal
    fiat_amount: Decimal
    fee_amount: Decimal
    fee_rate: Decimal
    exchange_rate: Decimal
    source: str
    from_currency: str = ""
    # Swap figures in the coin spent (decimal strings), stored on the trade.
    swap: dict = field(default_factory=dict)

    @property
    def net_fiat(self) -> Decimal:
        return self.fiat_amount - self.fee_amount


def _bad(field_name: str, message: str, *, code: str = "invalid_input") -> InvalidInput:
    return InvalidInput(message, code=code, details={field_name: [message]})


def _crypto(code: str, field_name: str = "crypto_currency") -> str:
    try:
        cur = currency(code)
    except UnknownCurrency:
        raise _bad(field_name, f"Unknown currency {code!r}.", code="unknown_currency") from None
    if not cur.is_crypto:
        raise _bad(
            field_name, f"Must be one of {', '.join(CRYPTO_CODES)}.", code="invalid_currency_pair"
        )
    return cur.code


def _fiat(code: str) -> str:
    try:
        cur = currency(code)
    except UnknownCurrency:
        raise _bad(
            "fiat_currency", f"Unknown currency {code!r}.", code="unknown_currency"
        ) from None
    if not cur.is_fiat:
        raise _bad(
            "fiat_currency",
            f"Must be one of {', '.join(FIAT_CODES)}.",
            code="invalid_currency_pair",
        )
    return cur.code


def trade_method_for(*, trade_type: str, code: str) -> PaymentMethod:
    method = payment_methods.get(code)
    if trade_type == "buy" and not method.supports_buy:
        raise _bad(
            "payment_method", f"{method.name} cannot pay for a buy.", code="method_not_supported"
        )
    if trade_type == "sell" and not method.supports_sell:
        raise _bad(
            "payment_method", f"{method.name} cannot pay out a sale.", code="method_not_supported"
        )
    if trade_type not in ("buy", "sell"):
        raise _bad("trade_type", "Must be buy or sell.")
    return method


def swap_from_currency(details: dict | None, *, crypto: str) -> str:
    raw = (details or {}).get("from_currency")
    if not raw or not isinstance(raw, str):
        raise InvalidInput(
            "Say which coin you pay with.",
            details={"payment_details": {"from_currency": ["This field is required."]}},
        )
    code = _crypto(raw, "from_currency")
    if code == crypto:
        raise InvalidInput(
            "Pay with a different coin than the one you buy.",
            code="invalid_from_currency",
            details={"payment_details": {"from_currency": ["Must differ from crypto_currency."]}},
        )
    return code


def trade_price(
    *,
    trade_type: str,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None = None,
) -> PricedTrade:
    """Validate a trade request (currencies, method, amount, precision,
    limits) and price it at the current price, whose crypto leg must be at
    most QUOTE_PRICE_MAX_AGE old. Raises InvalidInput (400), StalePrice (409)."""
    method = trade_method_for(trade_type=trade_type, code=payment_method)
    crypto = _crypto(crypto_currency)
    fiat = _fiat(fiat_currency)
    if fiat not in method.fiat_currencies():
        raise _bad(
            "fiat_currency",
            f"{method.name} takes {', '.join(method.fiat_currencies()) or 'no fiat'}.",
            code="currency_not_supported",
        )
    if not amount.is_finite() or amount <= 0:
        raise _bad("amount", "Must be greater than zero.")
    from_currency = ""
    if method.is_crypto_swap:
        from_currency = swap_from_currency(payment_details, crypto=crypto)
        amount_currency = from_currency
    else:
        amount_currency = fiat if trade_type == "buy" else crypto
    if not has_valid_precision(amount, amount_currency):
        places = currency(amount_currency).precision
        raise _bad(
            "amount",
            f"{amount_currency} amounts have at most {places} decimal places.",
            code="too_many_decimals",
        )

    snapshot = prices_get_all()  # one cache read for both prices of a swap
    price = _fresh(price_get(crypto=crypto, fiat=fiat, snapshot=snapshot))
    fee_rate = method.fee_rate()
    swap: dict = {}
    if method.is_crypto_swap:
        from_price = _fresh(price_get(crypto=from_currency, fiat=fiat, snapshot=snapshot))
        s = swap_amounts(
            amount=amount,
            from_currency=from_currency,
            crypto=crypto,
            fiat=fiat,
            from_price=from_price.price,
            price=price.price,
            fee_rate=fee_rate,
        )
        crypto_amount, fiat_amount, fee_amount = s.crypto_amount, s.fiat_amount, s.fee_amount
        exchange_rate = s.exchange_rate
        swap = {
            "from_currency": from_currency,
            "from_amount": str(s.from_amount),
            "from_fee": str(s.from_fee),
            "from_net": str(s.from_net),
            "from_price": rate_str(from_price.price),
            "cross_rate": rate_str(s.cross_rate),
        }
    else:
        fn = buy_amounts if trade_type == "buy" else sell_amounts
        a = fn(amount=amount, fee_rate=fee_rate, price=price.price, crypto=crypto, fiat=fiat)
        crypto_amount, fiat_amount, fee_amount = a.crypto_amount, a.fiat_amount, a.fee_amount
        exchange_rate = a.exchange_rate

    bounds = method.limits(fiat)
    if bounds:
        low, high = bounds
        if fiat_amount < low:
            raise _bad("amount", f"The minimum is {low} {fiat}.", code="amount_below_minimum")
        if fiat_amount > high:
            raise _bad("amount", f"The maximum is {high} {fiat}.", code="amount_above_maximum")
    return PricedTrade(
        trade_type=trade_type,
        crypto_currency=crypto,
        fiat_currency=fiat,
        payment_method=method.code,
        amount=amount,
        crypto_amount=crypto_amount,
        fiat_amount=fiat_amount,
        fee_amount=fee_amount,
        fee_rate=fee_rate,
        exchange_rate=exchange_rate,
        source=price.source,
        from_currency=from_currency,
        swap=swap,
    )


def quote_create(
    *,
    user,
    trade_type: str,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None = None,
) -> Quote:
    """Price a possible trade and keep it QUOTE_TTL. ``user`` None: anonymous."""
    priced = trade_price(
        trade_type=trade_type,
        crypto_currency=crypto_currency,
        fiat_currency=fiat_currency,
        amount=amount,
        payment_method=payment_method,
        payment_details=payment_details,
    )
    now = timezone.now()
    return Quote.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        trade_type=priced.trade_type,
        crypto_currency=priced.crypto_currency,
        fiat_currency=priced.fiat_currency,
        payment_method=priced.payment_method,
        from_currency=priced.from_currency,
        amount=priced.amount,
        crypto_amount=priced.crypto_amount,
        fiat_amount=priced.fiat_amount,
        fee_amount=priced.fee_amount,
        fee_rate=priced.fee_rate,
        exchange_rate=priced.exchange_rate,
        details=priced.swap,
        price_source=priced.source,
        created_at=now,
        expires_at=now + settings.QUOTE_TTL,
    )


def quote_use(
    *,
    quote_id,
    user,
    trade_type: str,
    crypto_currency: str,
    fiat_currency: str,
    amount: Decimal,
    payment_method: str,
    payment_details: dict | None = None,
) -> tuple[Quote, PricedTrade]:
    """Consume a quote for a trade (compare-and-set: a quote buys one trade).
    Call inside the trade's transaction so a failed trade leaves it unused.
    Raises QuoteInvalid / QuoteMismatch / QuoteExpired / QuoteUsed /
    PriceMoved / StalePrice (409): the price now is checked against the
    quote's (_quote_price_check)."""
    quote = Quote.objects.filter(pk=quote_id).first()
    if quote is None or (quote.user_id is not None and quote.user_id != user.pk):
        raise QuoteInvalid(details={"quote_id": str(quote_id)})
    method = trade_method_for(trade_type=trade_type, code=payment_method)
    from_currency = (
        swap_from_currency(payment_details, crypto=quote.crypto_currency)
        if method.is_crypto_swap
        else ""
    )
    asked = (trade_type, crypto_currency.upper(), fiat_currency.upper(), payment_method, amount)
    quoted = (
        quote.trade_type,
        quote.crypto_currency,
        quote.fiat_currency,
        quote.payment_method,
        quote.amount,
    )
    if asked != quoted or from_currency != quote.from_currency:
        raise QuoteMismatch(details={"quote_id": str(quote.pk)})
    now = timezone.now()
    if quote.expires_at <= now:
        raise QuoteExpired(
            details={"quote_id": str(quote.pk), "expired_at": quote.expires_at.isoformat()}
        )
    if quote.used_at is not None:
        raise QuoteUsed(details={"quote_id": str(quote.pk)})
    _quote_price_check(quote)
    if Quote.objects.filter(pk=quote.pk, used_at__isnull=True).update(used_at=now) != 1:
        raise QuoteUsed(details={"quote_id": str(quote.pk)})
    return quote, PricedTrade(
        trade_type=quote.trade_type,
        crypto_currency=quote.crypto_currency,
        fiat_currency=quote.fiat_currency,
        payment_method=quote.payment_method,
        amount=quote.amount,
        crypto_amount=quote.crypto_amount,
        fiat_amount=quote.fiat_amount,
        fee_amount=quote.fee_amount,
        fee_rate=quote.fee_rate,
        exchange_rate=quote.exchange_rate,
        source=quote.price_source,
        from_currency=quote.from_currency,
        swap=quote.details,
    )


def quotes_purge_expired(*, batch: int = 5000) -> int:
    """Delete quotes that expired unused more than QUOTE_PURGE_AFTER ago (a
    beat task): anonymous calculators must not grow the table forever. Used
    quotes stay with their trades. Deletes in batches; returns how many."""
    cutoff = timezone.now() - settings.QUOTE_PURGE_AFTER
    total = 0
    while True:
        ids = list(
            Quote.objects.filter(expires_at__lt=cutoff, used_at__isnull=True).values_list(
                "pk", flat=True
            )[:batch]
        )
        if not ids:
            return total
        deleted, _ = Quote.objects.filter(pk__in=ids, used_at__isnull=True).delete()
        total += deleted

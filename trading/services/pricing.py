"""Fee and amount arithmetic of a trade — the only place that
turns a price, a fee rate and an amount into the amounts of a trade.

Rounding never favours the user and never loses a unit:
* buy: ``amount`` is the fiat paid, fee included; the fee is rounded up, the
  crypto the user receives is rounded down; ``fiat == net + fee`` exactly.
* sell: ``amount`` is the crypto sold; the gross fiat and the user's net are
  rounded down and the fee is the exact remainder ``gross - net``.
* swap (buy paid with another coin): the fee is taken from the coin spent
  (rounded up), the coin received is rounded down.

Every rounding goes through ``ledger.money.quantize``.
"""

from dataclasses import dataclass
from decimal import Decimal, localcontext

from dtexchange.errors import InvalidInput
from ledger.money import currency, quantize, quantize_rate, quantize_up

# Wide enough that no intermediate product or quotient of NUMERIC(38, 18)
# values is rounded before ``quantize`` does it on purpose.
_PREC = 80


@dataclass(frozen=True)
class TradeAmounts:
    """``fiat_amount`` is what the user pays (buy) or the gross value (sell);
    ``net_fiat`` is what the reserve receives (buy) or the user receives (sell);
    ``fiat_amount == net_fiat + fee_amount``."""

    crypto_amount: Decimal
    fiat_amount: Decimal
    fee_amount: Decimal
    net_fiat: Decimal
    fee_rate: Decimal
    exchange_rate: Decimal


@dataclass(frozen=True)
class SwapAmounts:
    """A buy paid with another coin. ``from_amount == from_net + from_fee`` in
    the coin spent; ``crypto_amount`` of the coin bought; the ``fiat_*``
    figures value the same at the fiat prices (for display and limits)."""

    from_currency: str
    from_amount: Decimal
    from_fee: Decimal
    from_net: Decimal
    crypto_amount: Decimal
    cross_rate: Decimal  # units of the bought coin per unit of the coin spent
    fiat_amount: Decimal
    fee_amount: Decimal
    net_fiat: Decimal
    fee_rate: Decimal
    exchange_rate: Decimal  # fiat price of the bought coin


def _too_small(what: str) -> InvalidInput:
    return InvalidInput(
        f"The amount is too small: the {what} would round to zero.",
        code="amount_too_small",
        details={"amount": [f"Too small: the {what} rounds to zero."]},
    )


def buy_amounts(
    *, amount: Decimal, fee_rate: Decimal, price: Decimal, crypto: str, fiat: str
) -> TradeAmounts:
    """``amount`` fiat paid (fee included) at ``price`` fiat per crypto unit."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        fiat_amount = quantize(amount, fiat)
        fee = quantize_up(fiat_amount * fee_rate, fiat)
        net = fiat_amount - fee
        crypto_amount = quantize(net / price, crypto)
    if net <= 0:
        raise _too_small(f"{fiat} left after the fee")
    if crypto_amount <= 0:
        raise _too_small(f"{crypto} you receive")
    return TradeAmounts(
        crypto_amount=crypto_amount,
        fiat_amount=fiat_amount,
        fee_amount=fee,
        net_fiat=net,
        fee_rate=fee_rate,
        exchange_rate=quantize_rate(price),
    )


def sell_amounts(
    *, amount: Decimal, fee_rate: Decimal, price: Decimal, crypto: str, fiat: str
) -> TradeAmounts:
    """``amount`` crypto sold at ``price`` fiat per unit."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        crypto_amount = quantize(amount, crypto)
        gross_exact = crypto_amount * price
        gross = quantize(gross_exact, fiat)
        net = quantize(gross_exact * (1 - fee_rate), fiat)
        fee = gross - net
    if net <= 0:
        raise _too_small(f"{fiat} you receive")
    return TradeAmounts(
        crypto_amount=crypto_amount,
        fiat_amount=gross,
        fee_amount=fee,
        net_fiat=net,
        fee_rate=fee_rate,
        exchange_rate=quantize_rate(price),
    )


def swap_amounts(
    *,
    amount: Decimal,
    from_currency: str,
    crypto: str,
    fiat: str,
    from_price: Decimal,
    price: Decimal,
    fee_rate: Decimal,
) -> SwapAmounts:
    """Spend ``amount`` of ``from_currency`` for ``crypto`` at the cross rate of
    their ``fiat`` prices; the fee is ``fee_rate`` of the amount spent."""
    if not currency(from_currency).is_crypto or from_currency == crypto:
        raise InvalidInput(
            "Pay with a different coin than the one you buy.",
            code="invalid_from_currency",
            details={"payment_details": {"from_currency": ["Must be another crypto currency."]}},
        )
    with localcontext() as ctx:
        ctx.prec = _PREC
        from_amount = quantize(amount, from_currency)
        from_fee = quantize_up(from_amount * fee_rate, from_currency)
        from_net = from_amount - from_fee
        crypto_amount = quantize(from_net * from_price / price, crypto)
        fiat_amount = quantize(from_amount * from_price, fiat)
        net_fiat = quantize(from_net * from_price, fiat)
        cross_rate = quantize_rate(from_price / price)
    if from_net <= 0:
        raise _too_small(f"{from_currency} left after the fee")
    if crypto_amount <= 0:
        raise _too_small(f"{crypto} you receive")
    return SwapAmounts(
        from_currency=from_currency,
        from_amount=from_amount,
        from_fee=from_fee,
        from_net=from_net,
        crypto_amount=crypto_amount,
        cross_rate=cross_rate,
        fiat_amount=fiat_amount,
        fee_amount=fiat_amount - net_fiat,
        net_fiat=net_fiat,
        fee_rate=fee_rate,
        exchange_rate=quantize_rate(price),
    )

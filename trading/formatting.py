"""The public, JSON-safe shapes of trades and quotes (API bodies, event
payloads, stored Idempotency-Key responses): amounts as decimal strings at
their currency's precision."""

from decimal import Decimal

from ledger.money import quantize, quantize_rate
from trading.models.quotes import Quote
from trading.models.trades import Trade, TradeStatus


def rate_str(rate: Decimal) -> str:
    """A rate without trailing zeros and never in exponent notation."""
    text = format(quantize_rate(rate), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount_str(amount: Decimal, code: str) -> str:
    """An amount as a decimal string at its currency's precision, never in
    exponent notation (str(Decimal("0E-8")) would be)."""
    return format(quantize(amount, code), "f")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


STATUS_LABELS = {
    TradeStatus.PENDING: "Waiting for your payment",
    TradeStatus.PROCESSING: "Processing",
    TradeStatus.COMPLETED: "Completed",
    TradeStatus.FAILED: "Failed — nothing was charged",
    TradeStatus.CANCELLED: "Cancelled",
    TradeStatus.EXPIRED: "Expired — nothing was charged",
}


def trade_as_dict(trade: Trade) -> dict:
    """The public, JSON-safe shape of a trade (API bodies and event payloads):
    amounts as decimal strings at their currency's precision."""
    crypto, fiat = trade.crypto_currency, trade.fiat_currency
    return {
        "id": str(trade.public_id),
        "reference": trade.reference,
        "trade_type": trade.trade_type,
        "status": trade.status,
        "status_label": trade.status_reason or STATUS_LABELS.get(trade.status, trade.status),
        "crypto_currency": crypto,
        "fiat_currency": fiat,
        "crypto_amount": amount_str(trade.crypto_amount, crypto),
        "fiat_amount": amount_str(trade.fiat_amount, fiat),
        "fee_amount": amount_str(trade.fee_amount, fiat),
        "net_amount": amount_str(trade.fiat_amount - trade.fee_amount, fiat),
        "fee_rate": rate_str(trade.fee_rate),
        "exchange_rate": rate_str(trade.exchange_rate),
        "payment_method": trade.payment_method,
        "payment_details": trade.payment_details,
        "instructions": trade.instructions,
        "quote_id": str(trade.quote_id) if trade.quote_id else None,
        "created_at": _iso(trade.created_at),
        "updated_at": _iso(trade.updated_at),
        "completed_at": _iso(trade.completed_at),
    }


def quote_as_dict(quote: Quote) -> dict:
    fiat, crypto = quote.fiat_currency, quote.crypto_currency
    amount_currency = quote.from_currency or (fiat if quote.trade_type == "buy" else crypto)
    return {
        "quote_id": str(quote.pk),
        "trade_type": quote.trade_type,
        "crypto_currency": crypto,
        "fiat_currency": fiat,
        "payment_method": quote.payment_method,
        "amount": amount_str(quote.amount, amount_currency),
        "crypto_amount": amount_str(quote.crypto_amount, crypto),
        "fiat_amount": amount_str(quote.fiat_amount, fiat),
        "fee_amount": amount_str(quote.fee_amount, fiat),
        "net_amount": amount_str(quote.fiat_amount - quote.fee_amount, fiat),
        "fee_rate": rate_str(quote.fee_rate),
        "exchange_rate": rate_str(quote.exchange_rate),
        "payment_details": quote.details,
        "source": quote.price_source,
        "expires_at": quote.expires_at.isoformat(),
    }

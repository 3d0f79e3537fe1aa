"""The public shape of a quote."""

from trading.models.quotes import Quote
from trading.selectors.trades import amount_str, rate_str


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

"""trading's domain errors (subclasses of dtexchange.errors.DomainError)."""

from dtexchange.errors import Conflict, DomainError

# --- prices ----------------------------------------------------------------------


class StalePrice(Conflict):
    code = "stale_price"
    message = "The price is out of date; please try again in a moment."


class PriceUnavailable(DomainError):
    code = "price_unavailable"
    message = "Prices are unavailable right now; please try again in a moment."
    status = 503


# --- quotes ----------------------------------------------------------------------


class QuoteInvalid(Conflict):
    code = "quote_invalid"
    message = "This quote does not exist or is not yours."


class QuoteExpired(Conflict):
    code = "quote_expired"
    message = "This quote has expired; please get a new one."


class QuoteMismatch(Conflict):
    code = "quote_mismatch"
    message = "This quote was made for other trade parameters."


class QuoteUsed(Conflict):
    code = "quote_used"
    message = "This quote was already used for a trade."


class PriceMoved(QuoteExpired):
    """A QuoteExpired: callers that offer a new quote on expiry do the same here."""

    code = "price_moved"
    message = "The price has moved since this quote; please get a new one."


# --- trades ----------------------------------------------------------------------


class TradeNotSettleable(Conflict):
    code = "trade_not_settleable"
    message = "This trade can no longer be settled."


class TradeNotCancellable(Conflict):
    code = "trade_not_cancellable"
    message = "Only a pending trade can be cancelled."


class InsufficientLiquidity(Conflict):
    code = "insufficient_liquidity"
    message = "The exchange cannot cover this trade right now; please try a smaller amount."

"""trading's models, one module per area; each is imported here so Django sees it."""

from trading.models.quotes import Quote
from trading.models.trades import Trade, TradeStatus, TradeStatusChange, TradeType

__all__ = [
    "Quote",
    "Trade",
    "TradeStatus",
    "TradeStatusChange",
    "TradeType",
]

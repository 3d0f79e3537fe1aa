"""trading's read-only selectors, one module per area."""

from trading.selectors.trades import trade_get_for_user, trade_list_for_user

__all__ = [
    "trade_get_for_user",
    "trade_list_for_user",
]

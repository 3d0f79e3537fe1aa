"""trading's read-only selectors, one module per area."""

from trading.selectors.ledger import balance_get, balances_for_user, ledger_reconcile
from trading.selectors.trades import trade_as_dict, trade_get_for_user, trade_list_for_user

__all__ = [
    "balance_get",
    "balances_for_user",
    "ledger_reconcile",
    "trade_as_dict",
    "trade_get_for_user",
    "trade_list_for_user",
]

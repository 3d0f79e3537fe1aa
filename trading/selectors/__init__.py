"""trading's read-only selectors, one module per area."""

from trading.selectors.ledger import balance_get, balances_for_user, ledger_reconcile

__all__ = ["balance_get", "balances_for_user", "ledger_reconcile"]

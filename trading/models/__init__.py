"""trading's models, one module per area; each is imported here so Django sees it."""

from trading.models.ledger import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    TransactionKind,
)

__all__ = [
    "AccountKind",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerTransaction",
    "TransactionKind",
]

"""trading's write services, one module per area (ledger, prices, quotes, trades)."""

from trading.services.ledger import (
    house_account,
    ledger_post,
    reserve_fund,
    wallet_account,
)

__all__ = ["house_account", "ledger_post", "reserve_fund", "wallet_account"]

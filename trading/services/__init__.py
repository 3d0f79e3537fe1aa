"""trading's write services, one module per area (ledger, prices, quotes, trades)."""

from trading.services.ledger import (
    house_account,
    ledger_post,
    reserve_fund,
    wallet_account,
)
from trading.services.prices import price_get, prices_refresh
from trading.services.quotes import quote_create
from trading.services.trades import (
    InsufficientLiquidity,
    TradeNotCancellable,
    TradeNotSettleable,
    fiat_wallet_credit,
    trade_buy,
    trade_cancel,
    trade_complete_payout,
    trade_expire,
    trade_fail,
    trade_mark_processing,
    trade_refund_failed_payout,
    trade_sell,
    trade_settle_buy,
)

__all__ = [
    "InsufficientLiquidity",
    "TradeNotCancellable",
    "TradeNotSettleable",
    "fiat_wallet_credit",
    "house_account",
    "ledger_post",
    "price_get",
    "prices_refresh",
    "quote_create",
    "reserve_fund",
    "trade_buy",
    "trade_cancel",
    "trade_complete_payout",
    "trade_expire",
    "trade_fail",
    "trade_mark_processing",
    "trade_refund_failed_payout",
    "trade_sell",
    "trade_settle_buy",
    "wallet_account",
]

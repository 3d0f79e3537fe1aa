"""trading's write services, one module per area (prices, quotes, trades)."""

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
    "price_get",
    "prices_refresh",
    "quote_create",
    "trade_buy",
    "trade_cancel",
    "trade_complete_payout",
    "trade_expire",
    "trade_fail",
    "trade_mark_processing",
    "trade_refund_failed_payout",
    "trade_sell",
    "trade_settle_buy",
]

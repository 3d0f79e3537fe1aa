"""Trades: buy, sell, settle, fail, expire, cancel (a package: common,
opening, settlement, lifecycle).

Rules every function here keeps:
* A trade row is locked (``SELECT … FOR UPDATE``) before the ledger accounts
  (which ``ledger_post`` locks in pk order): one lock order, no deadlocks.
* Status changes are compare-and-set (``transition``): the UPDATE names the
  status it expects and the caller acts only when it changed one row.
* Every change is recorded (TradeStatusChange) and emitted as
  ``trade.updated`` (plus ``activity`` on completion) in the same transaction.
* Ledger postings carry an idempotency key derived from the trade, so a
  retried settlement never posts twice.
"""

from trading.errors import InsufficientLiquidity, TradeNotCancellable, TradeNotSettleable
from trading.services.trades.common import REFUNDED_LABEL, Settlement
from trading.services.trades.lifecycle import (
    fiat_wallet_credit,
    trade_cancel,
    trade_complete_payout,
    trade_expire,
    trade_fail,
    trade_mark_processing,
    trade_refund_failed_payout,
)
from trading.services.trades.opening import OpenedTrade, trade_buy, trade_open, trade_sell
from trading.services.trades.settlement import (
    buy_settlement,
    swap_settlement,
    trade_settle_buy,
)

__all__ = [
    "REFUNDED_LABEL",
    "InsufficientLiquidity",
    "OpenedTrade",
    "Settlement",
    "TradeNotCancellable",
    "TradeNotSettleable",
    "buy_settlement",
    "fiat_wallet_credit",
    "swap_settlement",
    "trade_buy",
    "trade_cancel",
    "trade_complete_payout",
    "trade_expire",
    "trade_fail",
    "trade_mark_processing",
    "trade_open",
    "trade_refund_failed_payout",
    "trade_sell",
    "trade_settle_buy",
]

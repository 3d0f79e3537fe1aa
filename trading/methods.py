"""The payment methods trading itself provides: both settle at once.

* ``balance`` - buy from the user's fiat wallet, sell into it.
* ``crypto`` - buy paying with another coin of the user's (a swap through the
  reserves); ``amount`` is then in ``payment_details.from_currency``.

Registered in ``TradingConfig.ready``.
"""

from decimal import Decimal
from typing import Any

from trading.payment_methods import PaymentMethod
from trading.services.trades import trade_settle_buy_held, trade_settle_swap


class BalanceMethod(PaymentMethod):
    code = "balance"
    name = "Wallet balance"
    processing_time = "Instant"
    supports_buy = True
    supports_sell = True
    settles_at_once = True
    settles_unsaved_trade = True

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        # The trade was created in this transaction: nobody else can see it,
        # so it is settled without re-locking it.
        trade_settle_buy_held(
            trade=trade,
            funding_account=None,  # the user's own fiat wallet
            actor=f"user:{trade.user_id}",
            reason="paid from wallet balance",
        )
        return {}


class CryptoMethod(PaymentMethod):
    code = "crypto"
    name = "Another coin from your wallet"
    processing_time = "Instant"
    supports_buy = True
    supports_sell = False
    is_crypto_swap = True
    settles_at_once = True
    settles_unsaved_trade = True

    def clean_details(
        self, *, user, trade_type: str, fiat: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        # Pricing already validated from_currency (it needs it for the cross
        # rate); only the normalised code is stored.
        return {"from_currency": str(details.get("from_currency", "")).upper()}

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        trade_settle_swap(trade=trade, actor=f"user:{trade.user_id}")
        return {}

"""The payment methods trading itself provides: both settle at once, from
what the user holds here (``buy_settlement``).

* ``balance`` - buy from the user's fiat wallet, sell into it.
* ``crypto`` - buy paying with another coin of the user's (a swap through the
  reserves); ``amount`` is then in ``payment_details.from_currency``.

Registered in ``TradingConfig.ready``.
"""

from decimal import Decimal
from typing import Any

from trading.payment_methods import PaymentMethod
from trading.services.trades import Settlement, buy_settlement, swap_settlement


class BalanceMethod(PaymentMethod):
    code = "balance"
    name = "Wallet balance"
    processing_time = "Instant"
    supports_buy = True
    supports_sell = True

    def buy_settlement(self, *, trade, details: dict[str, Any]) -> Settlement:
        return buy_settlement(
            trade=trade,
            funding_account=None,  # the user's own fiat wallet
            actor=f"user:{trade.user_id}",
            reason="paid from wallet balance",
        )


class CryptoMethod(PaymentMethod):
    code = "crypto"
    name = "Another coin from your wallet"
    processing_time = "Instant"
    supports_buy = True
    supports_sell = False
    is_crypto_swap = True

    def clean_details(
        self, *, user, trade_type: str, fiat: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        # Pricing already validated from_currency (it needs it for the cross
        # rate); only the normalised code is stored.
        return {"from_currency": str(details.get("from_currency", "")).upper()}

    def buy_settlement(self, *, trade, details: dict[str, Any]) -> Settlement:
        return swap_settlement(trade=trade, actor=f"user:{trade.user_id}")

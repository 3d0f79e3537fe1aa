"""The payment methods trading itself provides: both settle at once.

* ``balance`` — buy from the user's fiat wallet, sell into it.
* ``crypto`` — buy paying with another coin of the user's (a swap through the
  reserves); ``amount`` is then in ``payment_details.from_currency``.

Registered in ``TradingConfig.ready``.
"""

from decimal import Decimal
from typing import Any

from trading.payment_methods import PaymentMethod
from trading.services.ledger import wallet_account
from trading.services.trades import trade_settle_buy, trade_settle_swap


class BalanceMethod(PaymentMethod):
    code = "balance"
    name = "Wallet balance"
    processing_time = "Instant"
    supports_buy = True
    supports_sell = True

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        trade_settle_buy(
            trade_id=trade.pk,
            funding_account=wallet_account(user=trade.user, currency=trade.fiat_currency),
            actor=f"user:{trade.user_id}",
            reason="paid from wallet balance",
        )
        trade.refresh_from_db()
        return {}


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

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        trade_settle_swap(trade_id=trade.pk, actor=f"user:{trade.user_id}")
        trade.refresh_from_db()
        return {}

"""The ``voucher`` payment method: buy crypto with a prepaid voucher.

The voucher's face value is the amount paid: a buy whose ``amount`` differs is
refused with 400 ``amount_mismatch`` naming the voucher's value (rather than
silently re-pricing the trade at the face value, which would hand the buyer a
different crypto amount from the one they were quoted). Registered in
``VouchersConfig.ready``; trading never imports this module.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dtexchange.errors import InvalidInput
from ledger.models import AccountKind
from ledger.services import house_account
from trading.payment_methods import PaymentMethod
from trading.services.trades import trade_settle_buy
from vouchers.selectors import voucher_for_payment
from vouchers.services import voucher_redeem


class VoucherMethod(PaymentMethod):
    code = "voucher"
    name = "Voucher"
    processing_time = "Instant"
    supports_buy = True
    supports_sell = False

    def clean_details(
        self, *, user, trade_type: str, fiat: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        """Find the voucher the code names and check it can pay ``amount``.

        Returns what the trade stores: the voucher's id and suffix — never
        the plain code."""
        if trade_type != "buy":
            raise InvalidInput(
                "Vouchers can only pay for a buy.",
                code="unsupported_trade_type",
                details={"payment_method": ["Vouchers can only pay for a buy."]},
            )
        code = details.get("voucher_code") if isinstance(details, dict) else None
        if code is None or (isinstance(code, str) and not code.strip()):
            message = "Enter the voucher code."
            raise InvalidInput(message, details={"payment_details.voucher_code": [message]})
        voucher = voucher_for_payment(code=code, currency=fiat, amount=amount)
        return {"voucher_id": voucher.pk, "voucher_suffix": voucher.suffix}

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        """Redeem the voucher (row lock, re-check, compare-and-set) and settle
        the trade from the voucher liability, in the buy's transaction: both
        happen, or — if another buyer redeemed it first — neither, and the
        trade is not created."""
        voucher = voucher_redeem(
            voucher_id=details["voucher_id"],
            currency=trade.fiat_currency,
            amount=trade.fiat_amount,
            user=trade.user,
            trade=trade,
        )
        trade_settle_buy(
            trade_id=trade.pk,
            funding_account=house_account(
                kind=AccountKind.VOUCHER_LIABILITY, currency=trade.fiat_currency
            ),
            actor=f"user:{trade.user_id}",
            reason=f"paid with voucher …{voucher.suffix}",
        )
        trade.refresh_from_db()
        return {}

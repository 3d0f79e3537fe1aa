"""payments' read-only queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payments.models import BankDeposit
from trading.services.pricing import buy_amounts


@dataclass(frozen=True)
class DepositPreview:
    amount_received: Decimal
    fee_amount: Decimal
    crypto_amount: Decimal
    crypto_currency: str
    differs: bool


def deposit_review_queue():
    """Pending deposits, oldest first (the reviewers' queue)."""
    return (
        BankDeposit.objects.filter(status=BankDeposit.Status.PENDING)
        .select_related("user", "trade")
        .order_by("created_at", "pk")
    )


def deposit_preview(*, deposit: BankDeposit, amount_received: Decimal) -> DepositPreview:
    """What approving with ``amount_received`` will settle: the trade re-priced
    at its own rate and fee rate (the same arithmetic trade_settle_buy uses)."""
    trade = deposit.trade
    amounts = buy_amounts(
        amount=amount_received,
        fee_rate=trade.fee_rate,
        price=trade.exchange_rate,
        crypto=trade.crypto_currency,
        fiat=trade.fiat_currency,
    )
    return DepositPreview(
        amount_received=amount_received,
        fee_amount=amounts.fee_amount,
        crypto_amount=amounts.crypto_amount,
        crypto_currency=trade.crypto_currency,
        differs=amount_received != deposit.expected_amount,
    )

"""payments' read-only queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.models import LedgerTransaction
from payments.models import BankDeposit, MobileMoneyPayment, PaymentResolution
from payments.relworx import parse_amount
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


# --- flagged mobile-money payments ------------------------------------------------


def flagged_payments_open():
    """Flagged payments no person has resolved yet, oldest first."""
    return (
        MobileMoneyPayment.objects.filter(flagged=True, resolved_at__isnull=True)
        .select_related("user", "trade")
        .order_by("created_at", "pk")
    )


def momo_wallet_credit_key(payment: MobileMoneyPayment) -> str:
    """The ledger idempotency key of "this payment's money went to the user's
    wallet" — shared by the automatic late-payment credit (services.effects)
    and a staff resolution, so the two can never both credit one payment."""
    return f"momo:{payment.reference}:wallet"


def flagged_payment_reported_amount(payment: MobileMoneyPayment) -> Decimal | None:
    """What Relworx last said was paid: the amount it reported on a success
    (kept on the payment, or in its last status payload when the success was
    not applied, e.g. it arrived after a failure)."""
    if payment.amount_received is not None:
        return payment.amount_received
    raw = payment.last_status_raw or {}
    if str(raw.get("status") or "").lower() == "success":
        return parse_amount(raw.get("amount"))
    return None


def flagged_payment_credit_refusal(payment: MobileMoneyPayment) -> str:
    """Why crediting the user's wallet is not an outcome for this payment, or
    "" when it is: only a collection (the customer paid us) whose money has
    not already reached the user (settled trade or wallet credit), in the
    payment's own currency."""
    if payment.direction != MobileMoneyPayment.Direction.COLLECTION:
        return (
            "A payout is money we sent: crediting the wallet is not an outcome here. "
            "Handle it with Relworx and dismiss with a note."
        )
    if payment.outcome in ("trade_settled", "wallet_credited"):
        return "This payment's money already reached the user (trade settled or wallet credited)."
    if (
        PaymentResolution.objects.filter(
            payment=payment, outcome=PaymentResolution.Outcome.CREDITED
        ).exists()
        or LedgerTransaction.objects.filter(
            idempotency_key=momo_wallet_credit_key(payment)
        ).exists()
    ):
        return "This payment was already credited to the user's wallet."
    reported = str((payment.last_status_raw or {}).get("currency") or "").upper()
    if reported and reported != payment.currency:
        return (
            f"Relworx reported {reported}, the payment is in {payment.currency}: "
            "resolve it outside and dismiss with a note."
        )
    return ""

"""payments' read-only queries."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from ledger.models import AccountKind, LedgerAccount, LedgerTransaction
from ledger.money import quantize
from payments.models import BankDeposit, MobileMoneyPayment, PaymentResolution
from trading import payment_methods
from trading.services.prices import price_get_fresh
from trading.services.pricing import buy_amounts


@dataclass(frozen=True)
class DepositPreview:
    """What approving a deposit with ``amount_received`` will do (the one
    plan deposit_approve follows, and the figures the reviewer is shown)."""

    amount_received: Decimal
    fee_amount: Decimal
    crypto_amount: Decimal
    crypto_currency: str
    differs: bool
    # The part settled as crypto (at most the method maximum) and the rest,
    # credited to the user's fiat wallet (less the method's fee) and flagged.
    settle_amount: Decimal
    remainder: Decimal
    maximum: Decimal | None
    # Re-priced at the current price (late, a different amount or above the
    # maximum) rather than at the rate of the order; why, and both rates.
    repriced: bool
    reasons: tuple[str, ...]
    rate: Decimal
    order_rate: Decimal
    # The reserve holds the crypto now (checked again by the posting).
    reserve_covers: bool
    # A wallet top-up: what the wallet receives (the rest is the fee).
    wallet_net: Decimal | None = None

    @property
    def needs_confirmation(self) -> bool:
        return self.differs or self.repriced or bool(self.remainder)


def _deposit_is_late(deposit: BankDeposit, now) -> bool:
    return now - deposit.created_at > settings.BANK_DEPOSIT_PRICE_HOLD


def deposit_review_queue():
    """Pending deposits, oldest first (the reviewers' queue)."""
    return (
        BankDeposit.objects.filter(status=BankDeposit.Status.PENDING)
        .select_related("user", "trade", "top_up")
        .order_by("created_at", "pk")
    )


def deposit_preview(*, deposit: BankDeposit, amount_received: Decimal, now=None) -> DepositPreview:
    """The plan of approving ``deposit`` with ``amount_received`` now.

    A bank deposit is an option the customer holds for days: the order's rate
    holds only for the expected amount approved within BANK_DEPOSIT_PRICE_HOLD
    of the order. Approved later, or for another amount, the trade is priced
    at the current price (StalePrice when its crypto leg is older than
    QUOTE_PRICE_MAX_AGE, as for a quote) with the
    order's fee rate. At most the method's maximum is settled as crypto; the
    rest goes to the fiat wallet (less the fee) and the deposit is flagged.
    The same arithmetic as trade_settle_buy (buy_amounts). A wallet top-up
    credits all that arrived, less its fee (_top_up_preview)."""
    if deposit.top_up_id:
        return _top_up_preview(deposit, amount_received)
    trade = deposit.trade
    now = now or timezone.now()
    fiat, crypto = trade.fiat_currency, trade.crypto_currency
    bounds = payment_methods.get("bank_deposit").limits(fiat)
    maximum = bounds[1] if bounds else None
    settle_amount = min(amount_received, maximum) if maximum is not None else amount_received
    remainder = amount_received - settle_amount
    reasons = []
    if _deposit_is_late(deposit, now):
        reasons.append("late")
    if amount_received != deposit.expected_amount:
        reasons.append("amount_differs")
    if remainder:
        reasons.append("above_maximum")
    rate = trade.exchange_rate
    if reasons:
        # Re-pricing sells crypto at today's price: one fresh enough for a
        # quote, not merely one still shown (PRICE_MAX_AGE).
        rate = price_get_fresh(crypto=crypto, fiat=fiat).price
    amounts = buy_amounts(
        amount=settle_amount, fee_rate=trade.fee_rate, price=rate, crypto=crypto, fiat=fiat
    )
    reserve = (
        LedgerAccount.objects.filter(owner=None, kind=AccountKind.RESERVE, currency=crypto)
        .values_list("balance", flat=True)
        .first()
    )
    return DepositPreview(
        amount_received=amount_received,
        fee_amount=amounts.fee_amount,
        crypto_amount=amounts.crypto_amount,
        crypto_currency=crypto,
        differs=amount_received != deposit.expected_amount,
        settle_amount=settle_amount,
        remainder=remainder,
        maximum=maximum,
        repriced=bool(reasons),
        reasons=tuple(reasons),
        rate=amounts.exchange_rate,
        order_rate=trade.exchange_rate,
        reserve_covers=reserve is not None and reserve >= amounts.crypto_amount,
    )


def _top_up_preview(deposit: BankDeposit, amount_received: Decimal) -> DepositPreview:
    top_up = deposit.top_up
    net = quantize(amount_received * (1 - top_up.fee_rate), deposit.currency)
    differs = amount_received != deposit.expected_amount
    return DepositPreview(
        amount_received=amount_received,
        fee_amount=amount_received - net,
        crypto_amount=Decimal(0),
        crypto_currency="",
        differs=differs,
        settle_amount=amount_received,
        remainder=Decimal(0),
        maximum=None,
        repriced=False,
        reasons=("amount_differs",) if differs else (),
        rate=Decimal(0),
        order_rate=Decimal(0),
        reserve_covers=True,
        wallet_net=net,
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
    """What Relworx's status check said was paid (``amount_received``), or
    None. Never a webhook's amount: the signature does not cover it, so it
    is neither kept nor shown (a replayed, edited webhook would otherwise
    prefill the staff credit form)."""
    return payment.amount_received


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

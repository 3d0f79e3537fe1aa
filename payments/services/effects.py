"""What a final mobile-money outcome does to its trade, through the trading
services only (their contracts). Called under the payment's row lock, in the
same transaction as the payment's status change, so the two never disagree.

* collection succeeded → ``trade_settle_buy`` from the mobile-money clearing
  account; if the trade can no longer be settled (expired, cancelled, failed)
  or the reserve cannot cover it any more, the money is not lost: it is
  credited to the user's UGX wallet (less the mobile-money fee when the
  trade had closed) and the user is notified.
* collection failed → ``trade_fail`` ("nothing was charged").
* payout succeeded → ``trade_complete_payout``.
* payout of a wallet withdrawal (no trade) → ``withdrawal_payout_settle``:
  completed, or refunded to the wallet exactly once.
* payout failed → ``trade_refund_failed_payout``: the net goes to the user's
  fiat wallet (documented choice: fiat to the wallet rather than crypto back,
  so the user is not exposed to a price move they did not choose).
* a wallet top-up's collection succeeded → ``top_up_complete`` from the
  mobile-money clearing account (the wallet is credited once, less the
  fee); failed → ``top_up_fail``.
"""

from __future__ import annotations

import contextlib

import structlog

from ledger.money import quantize_up
from ledger.services import house_account, ledger_post
from payments.models import MobileMoneyPayment
from payments.selectors import momo_wallet_credit_key
from trading.services import (
    fiat_wallet_credit,
    trade_complete_payout,
    trade_fail,
    trade_refund_failed_payout,
    trade_settle_buy,
)
from trading.services.trades import InsufficientLiquidity, TradeNotSettleable
from wallet.services import withdrawal_payout_settle

log = structlog.get_logger(__name__)
ACTOR = "system:relworx"
CLEARING = "mobile_money_clearing"


def _credit_wallet(payment: MobileMoneyPayment, why: str, *, charge_fee: bool) -> str:
    # fiat_wallet_credit also tells the user (a ``notification`` outbox event).
    # Money for a trade that had closed is a top-up through mobile money and
    # pays its fee (else cancelling and paying anyway would avoid the fee);
    # money the house could not fill is not charged.
    fiat_wallet_credit(
        user=payment.user,
        currency=payment.currency,
        amount=payment.amount_received or payment.amount,
        funding_account=house_account(kind=CLEARING, currency=payment.currency),
        idempotency_key=momo_wallet_credit_key(payment),
        reason=f"Your mobile money payment arrived after your order {why}.",
        payment_method="mobile_money",
        payment_reference=payment.reference,
        charge_fee=charge_fee,
    )
    log.warning("momo.late_payment_credited", reference=payment.reference, why=why)
    return "wallet_credited"


def _top_up_outcome(payment: MobileMoneyPayment) -> str:
    from wallet.services import top_up_complete, top_up_fail

    if payment.status == MobileMoneyPayment.Status.SUCCEEDED:
        top_up_complete(
            deposit_id=payment.top_up_id,
            funding_account=house_account(kind=CLEARING, currency=payment.currency),
            amount_received=payment.amount_received or payment.amount,
            actor=ACTOR,
            reason=f"mobile money {payment.reference}",
        )
        return "top_up_credited"
    top_up_fail(
        deposit_id=payment.top_up_id,
        reason=f"The mobile money payment failed: {payment.failure_reason}"[:255],
        actor=ACTOR,
    )
    return "top_up_failed"


def apply_outcome(payment: MobileMoneyPayment) -> str:
    if payment.top_up_id is not None and payment.direction == "collection":
        return _top_up_outcome(payment)
    if payment.trade_id is None:
        if payment.direction == MobileMoneyPayment.Direction.PAYOUT:
            # A wallet withdrawal's payout: the wallet pays it out or refunds it.
            return withdrawal_payout_settle(
                reference=payment.reference,
                succeeded=payment.status == MobileMoneyPayment.Status.SUCCEEDED,
                reason=payment.failure_reason,
            )
        return "no_trade"
    collection = payment.direction == MobileMoneyPayment.Direction.COLLECTION
    succeeded = payment.status == MobileMoneyPayment.Status.SUCCEEDED
    if collection and succeeded:
        try:
            trade_settle_buy(
                trade_id=payment.trade_id,
                funding_account=house_account(kind=CLEARING, currency=payment.currency),
                amount_received=payment.amount_received or payment.amount,
                actor=ACTOR,
                reason=f"mobile money {payment.reference}",
            )
            return "trade_settled"
        except TradeNotSettleable:
            return _credit_wallet(payment, "had closed", charge_fee=True)
        except InsufficientLiquidity:
            result = _credit_wallet(payment, "could not be filled", charge_fee=False)
            with contextlib.suppress(TradeNotSettleable):
                trade_fail(trade_id=payment.trade_id, reason="reserve could not cover", actor=ACTOR)
            return result
    if collection:
        try:
            trade_fail(
                trade_id=payment.trade_id,
                reason=f"mobile money payment failed: {payment.failure_reason}"[:255],
                actor=ACTOR,
            )
            return "trade_failed"
        except TradeNotSettleable:
            return "trade_already_closed"
    if succeeded:
        trade_complete_payout(trade_id=payment.trade_id, actor=ACTOR)
        return "payout_completed"
    trade_refund_failed_payout(
        trade_id=payment.trade_id,
        reason=f"mobile money payout failed: {payment.failure_reason}"[:255],
        actor=ACTOR,
    )
    return "payout_refunded"


def post_relworx_charge(payment: MobileMoneyPayment) -> None:
    """Book Relworx's charge on a decided payment, once (its idempotency key):
    the mobile-money clearing account mirrors the Relworx wallet, which pays
    the charge, and the charge is our expense (``relworx_fees``), so the
    clearing account reconciles against the wallet. UGX has no minor unit and
    Relworx reports charges in tenths: the books take it rounded up to a whole
    unit (never understating the cost); the exact charge stays on the payment."""
    amount = quantize_up(payment.charge, payment.currency)
    if amount <= 0:
        return
    ledger_post(
        kind="relworx_charge",
        idempotency_key=f"momo:{payment.reference}:charge",
        entries=[
            (house_account(kind=CLEARING, currency=payment.currency), amount),
            (house_account(kind="relworx_fees", currency=payment.currency), -amount),
        ],
        description=f"Relworx charge on {payment.direction} {payment.reference}",
        actor=ACTOR,
        reference=payment.reference,
    )

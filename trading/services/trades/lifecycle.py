"""The other state changes of a trade (payout done or refunded, failed,
expired, processing, cancelled) and crediting money that arrived late to
the user's fiat wallet."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.services import user_verified_require
from dtexchange.errors import InvalidInput
from ledger.models import AccountKind, LedgerAccount, LedgerTransaction
from ledger.money import fmt, quantize
from ledger.services import house_account, wallet_account
from notifications.services import outbox_emit
from trading import payment_methods
from trading.errors import TradeNotCancellable, TradeNotSettleable
from trading.models.trades import ACTIVE_STATUSES, Trade, TradeStatus, TradeType
from trading.services.trades.common import (
    REFUNDED_LABEL,
    actor_for,
    trade_lock,
    trade_post,
    transition,
)


def _clearing_account(trade: Trade) -> LedgerAccount:
    kind = payment_methods.get(trade.payment_method).payout_clearing_kind
    if kind is None:
        raise TradeNotSettleable(
            "This sale was paid to the wallet; it has no payout.",
            details={"trade_id": str(trade.public_id)},
        )
    return house_account(kind=kind, currency=trade.fiat_currency)


def _require_payout_sell(trade: Trade) -> None:
    if trade.trade_type != TradeType.SELL or trade.ledger_transaction_id is None:
        raise TradeNotSettleable(
            "Not a sale with a payout in progress.",
            details={"trade_id": str(trade.public_id), "status": trade.status},
        )


@transaction.atomic
def trade_complete_payout(*, trade_id: int, actor: str) -> Trade:
    """The method's payout of a sell succeeded. Idempotent (completed →
    unchanged). The clearing account keeps the net until the method's own
    reconciliation books the money that left."""
    trade = trade_lock(trade_id)
    if trade.status == TradeStatus.COMPLETED:
        return trade
    _require_payout_sell(trade)
    if trade.status not in ACTIVE_STATUSES:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    transition(trade, to=TradeStatus.COMPLETED, actor=actor, reason="payout succeeded")
    return trade


@transaction.atomic
def trade_refund_failed_payout(*, trade_id: int, reason: str, actor: str) -> Trade:
    """The payout of a sell failed: clearing -net → the user's fiat wallet
    +net (one posting, keyed on the trade), trade ``failed`` ("Failed —
    refunded to your wallet"). Idempotent: a refunded trade is returned."""
    trade = trade_lock(trade_id)
    if trade.status == TradeStatus.FAILED and trade.refund_transaction_id:
        return trade
    _require_payout_sell(trade)
    if trade.status not in ACTIVE_STATUSES:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    fiat = trade.fiat_currency
    net = quantize(trade.fiat_amount - trade.fee_amount, fiat)
    txn = trade_post(
        kind="payout_refund",
        key=f"trade:{trade.public_id}:refund",
        entries=[
            (_clearing_account(trade), -net),
            (wallet_account(user=trade.user, currency=fiat), net),
        ],
        description=f"Refund of failed payout {trade.reference}: {fmt(net, fiat)}",
        actor=actor,
        reference=trade.reference,
    ).transaction
    transition(
        trade,
        to=TradeStatus.FAILED,
        actor=actor,
        reason=reason,
        label=REFUNDED_LABEL,
        refund_transaction=txn,
    )
    return trade


# --- other state changes ---------------------------------------------------------


@transaction.atomic
def trade_fail(*, trade_id: int, reason: str, actor: str) -> Trade:
    """A buy whose payment failed → ``failed`` (nothing was charged).
    Idempotent on an already failed trade. A sale whose crypto already left
    must be made good with trade_refund_failed_payout instead (409)."""
    trade = trade_lock(trade_id)
    if trade.status == TradeStatus.FAILED:
        return trade
    if trade.status not in ACTIVE_STATUSES:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    if trade.ledger_transaction_id is not None:
        raise TradeNotSettleable(
            "Value already moved for this trade; refund it instead of failing it.",
            details={"trade_id": str(trade.public_id)},
        )
    transition(trade, to=TradeStatus.FAILED, actor=actor, reason=reason)
    return trade


@transaction.atomic
def trade_expire(*, trade_id: int) -> Trade | None:
    """Expire a pending/processing trade on which no value moved; None when
    it was not expirable (already settled, failed, ... or a sale in payout)."""
    trade = trade_lock(trade_id)
    if trade.status not in ACTIVE_STATUSES or trade.ledger_transaction_id is not None:
        return None
    if not transition(trade, to=TradeStatus.EXPIRED, actor="system:expiry", reason="expired"):
        return None
    return trade


@transaction.atomic
def trade_mark_processing(*, trade_id: int, actor: str) -> Trade:
    """pending → processing (the payment is under way). Idempotent."""
    trade = trade_lock(trade_id)
    if trade.status == TradeStatus.PROCESSING:
        return trade
    if trade.status != TradeStatus.PENDING:
        raise TradeNotSettleable(details={"trade_id": str(trade.public_id), "status": trade.status})
    transition(trade, to=TradeStatus.PROCESSING, actor=actor)
    return trade


@transaction.atomic
def trade_cancel(*, trade: Trade, user) -> Trade:
    """The owner cancels a pending trade on which no value moved yet. The
    caller found ``trade`` through the user (another user's trade is a 404).
    An unverified account cancels nothing (403 email_not_verified)."""
    user_verified_require(user=user)
    trade = trade_lock(trade.pk)
    if trade.user_id != user.pk:
        raise InvalidInput("Not your trade.", code="trade_not_found")
    if trade.status != TradeStatus.PENDING or trade.ledger_transaction_id is not None:
        raise TradeNotCancellable(details={"status": trade.status})
    if not transition(trade, to=TradeStatus.CANCELLED, actor=actor_for(user), reason="cancelled"):
        raise TradeNotCancellable(details={"status": trade.status})
    return trade


# --- fiat wallet -------------------------------------------------------------------


@transaction.atomic
def fiat_wallet_credit(
    *,
    user,
    currency: str,
    amount: Decimal,
    funding_account: LedgerAccount,
    idempotency_key: str,
    reason: str,
    payment_method: str = "",
    payment_reference: str = "",
    charge_fee: bool = False,
) -> LedgerTransaction:
    """Credit money that arrived (e.g. a mobile-money payment whose trade had
    expired) to the user's fiat wallet: funding -amount, wallet +net.
    ``charge_fee``: the money came in through ``payment_method`` and is
    charged that method's fee (payment_methods' fee rate: the same as a buy
    through it would pay, so a cancelled or expired trade is no way round
    the fee): fee revenue +fee, net = amount - fee, the user's side rounded
    down. Idempotent on ``idempotency_key`` (the ledger's). The user is told
    once, live and by the late-payment email, of the net."""
    amount = quantize(amount, currency)
    if amount <= 0:
        raise InvalidInput("The amount must be positive.", code="invalid_amount")
    fee = Decimal(0)
    if charge_fee:
        rate = payment_methods.get(payment_method).fee_rate()
        net = quantize(amount * (1 - rate), currency)  # rounded down: the user's side
        fee = amount - net
    net = amount - fee
    result = trade_post(
        kind="wallet_credit",
        key=idempotency_key,
        entries=[
            (funding_account, -amount),
            (house_account(kind=AccountKind.FEE_REVENUE, currency=currency), fee),
            (wallet_account(user=user, currency=currency), net),
        ],
        description=reason if not fee else f"{reason} (fee {fmt(fee, currency)})",
        actor="system",
        reference=idempotency_key[:64],
    )
    txn = result.transaction
    if not result.replayed:
        body = f"{fmt(net, currency)} was added to your wallet."
        if fee:
            body += f" ({fmt(amount, currency)} received, less the fee of {fmt(fee, currency)}.)"
        outbox_emit(
            kind="notification",
            user_id=user.pk,
            payload={
                "title": "Money added to your wallet",
                "body": f"{body} {reason}".strip(),
                "level": "success",
                "late_payment": True,
                "amount": str(net),
                "currency": currency,
                "payment_method": payment_method,
                "reference": payment_reference,
                "at": txn.created_at.isoformat(),
            },
        )
    return txn

"""Reads of trades: the public shape of a trade, lists, one trade."""

import uuid
from decimal import Decimal

from django.db.models import QuerySet

from dtexchange.errors import InvalidInput, NotFound
from ledger.money import quantize, quantize_rate
from trading.models.trades import ACTIVE_STATUSES, Trade, TradeStatus


def rate_str(rate: Decimal) -> str:
    """A rate without trailing zeros and never in exponent notation."""
    text = format(quantize_rate(rate), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def amount_str(amount: Decimal, code: str) -> str:
    """An amount as a decimal string at its currency's precision, never in
    exponent notation (str(Decimal("0E-8")) would be)."""
    return format(quantize(amount, code), "f")


def _iso(value) -> str | None:
    return value.isoformat() if value else None


STATUS_LABELS = {
    TradeStatus.PENDING: "Waiting for your payment",
    TradeStatus.PROCESSING: "Processing",
    TradeStatus.COMPLETED: "Completed",
    TradeStatus.FAILED: "Failed — nothing was charged",
    TradeStatus.CANCELLED: "Cancelled",
    TradeStatus.EXPIRED: "Expired — nothing was charged",
}


def trade_as_dict(trade: Trade) -> dict:
    """The public, JSON-safe shape of a trade (API bodies and event payloads):
    amounts as decimal strings at their currency's precision."""
    crypto, fiat = trade.crypto_currency, trade.fiat_currency
    return {
        "id": str(trade.public_id),
        "reference": trade.reference,
        "trade_type": trade.trade_type,
        "status": trade.status,
        "status_label": trade.status_reason or STATUS_LABELS.get(trade.status, trade.status),
        "crypto_currency": crypto,
        "fiat_currency": fiat,
        "crypto_amount": amount_str(trade.crypto_amount, crypto),
        "fiat_amount": amount_str(trade.fiat_amount, fiat),
        "fee_amount": amount_str(trade.fee_amount, fiat),
        "net_amount": amount_str(trade.fiat_amount - trade.fee_amount, fiat),
        "fee_rate": rate_str(trade.fee_rate),
        "exchange_rate": rate_str(trade.exchange_rate),
        "payment_method": trade.payment_method,
        "payment_details": trade.payment_details,
        "instructions": trade.instructions,
        "quote_id": str(trade.quote_id) if trade.quote_id else None,
        "created_at": _iso(trade.created_at),
        "updated_at": _iso(trade.updated_at),
        "completed_at": _iso(trade.completed_at),
    }


def trade_list_for_user(*, user, status: str | None = None, limit: int = 50) -> QuerySet[Trade]:
    """Newest first; ``status`` one of TradeStatus or None for all."""
    qs = Trade.objects.filter(user=user)
    if status:
        if status not in TradeStatus.values:
            raise InvalidInput(
                f"Unknown status {status!r}.",
                details={"status": [f"One of: {', '.join(TradeStatus.values)}."]},
            )
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")[:limit]


def trade_get_for_user(*, user, trade_id: str) -> Trade:
    """Another user's trade, or an id that is not a trade id, is a 404."""
    try:
        public_id = uuid.UUID(str(trade_id))
    except ValueError:
        raise NotFound("Trade not found.", code="trade_not_found") from None
    trade = Trade.objects.filter(user=user, public_id=public_id).first()
    if trade is None:
        raise NotFound("Trade not found.", code="trade_not_found")
    return trade


def trade_open_count_for_user(*, user) -> int:
    """How many of the user's trades still wait for their payment (the same
    statuses as trade_is_open)."""
    return Trade.objects.filter(user=user, status__in=ACTIVE_STATUSES).count()


def trade_is_open(*, trade_id: int) -> bool:
    """Whether the trade still waits for its payment (pending or processing):
    a payment request for a cancelled, expired or finished trade is not sent."""
    return Trade.objects.filter(pk=trade_id, status__in=ACTIVE_STATUSES).exists()

"""Reads of trades: lists, one trade."""

import uuid

from django.db.models import QuerySet

from dtexchange.errors import InvalidInput, NotFound
from trading.models.trades import ACTIVE_STATUSES, Trade, TradeStatus


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

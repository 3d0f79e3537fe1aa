"""Reads for the customer site's pages (owner: site). Read-only; each returns
a queryset or values in a fixed number of queries, whatever the history size."""

from django.db.models import QuerySet

from notifications.models import OutboxEvent
from trading.models.trades import Trade


def trade_history_for_user(
    *,
    user,
    status: str = "",
    trade_type: str = "",
    crypto_currency: str = "",
    payment_method: str = "",
) -> QuerySet[Trade]:
    """The user's trades, newest first, filtered; unsliced so the page can
    paginate it (served by the (user, -created_at) index)."""
    qs = Trade.objects.filter(user=user)
    if status:
        qs = qs.filter(status=status)
    if trade_type:
        qs = qs.filter(trade_type=trade_type)
    if crypto_currency:
        qs = qs.filter(crypto_currency=crypto_currency)
    if payment_method:
        qs = qs.filter(payment_method=payment_method)
    return qs.order_by("-created_at", "-id")


def activity_recent(*, limit: int = 10) -> list[dict]:
    """The public feed as it was published: the anonymised ``activity`` events
    the trading services emit for completed trades (no user, rounded amounts)."""
    rows = (
        OutboxEvent.objects.filter(kind="activity", user_id__isnull=True)
        .order_by("-id")
        .values_list("payload", flat=True)[:limit]
    )
    return [dict(payload) for payload in rows]

"""Trading's part of a person's data export and erasure: their trades (kept
as financial records; an open trade stops the erasure)."""

from trading.formatting import trade_as_dict
from trading.models.trades import Trade
from trading.selectors.trades import trade_open_count_for_user


def export(user) -> list[dict]:
    return [trade_as_dict(t) for t in Trade.objects.filter(user=user).order_by("created_at", "pk")]


def blockers(user, give_up_small_balances: bool) -> list[dict]:
    n = trade_open_count_for_user(user=user)
    if not n:
        return []
    return [{"code": "trade_in_flight", "message": f"{n} trade(s) are still open"}]

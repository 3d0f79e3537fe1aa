"""Whether a switch stops something now (read on every new trade: one
indexed query each)."""

from __future__ import annotations

from switches.models import AccountFreeze, MethodPause


def account_freeze_active(*, user_id: int) -> AccountFreeze | None:
    return AccountFreeze.objects.filter(user_id=user_id, lifted_at__isnull=True).first()


def method_pauses_active() -> dict[tuple[str, str], str]:
    """``{(method, direction): reason}`` of every method paused now."""
    return {
        (method, direction): reason
        for method, direction, reason in MethodPause.objects.filter(
            lifted_at__isnull=True
        ).values_list("method", "direction", "reason")
    }


def method_pause_reason(*, method: str, direction: str) -> str | None:
    return (
        MethodPause.objects.filter(method=method, direction=direction, lifted_at__isnull=True)
        .values_list("reason", flat=True)
        .first()
    )


def trade_stop_check(*, user_id: int, method: str, trade_type: str) -> None:
    """Raise (409) when a stop switch refuses a new trade: the account is
    frozen, or the method is paused for this direction (a sale is paid out
    by its method)."""
    from switches.errors import PaymentMethodPaused

    money_out_stop_check(user_id=user_id)
    direction = "sell" if trade_type == "sell" else "buy"
    reason = method_pause_reason(method=method, direction=direction)
    if reason is not None:
        raise PaymentMethodPaused(
            f"This payment method is paused: {reason}",
            details={"payment_method": [reason]},
        )


def money_out_stop_check(*, user_id: int) -> None:
    """Raise (409) when the account is frozen: for withdrawals and anything
    else that sends a user's money out."""
    from switches.errors import AccountFrozen

    freeze = account_freeze_active(user_id=user_id)
    if freeze is not None:
        raise AccountFrozen(
            f"Your account is frozen: {freeze.reason} Contact support to lift it.",
            details={"account": [freeze.reason]},
        )

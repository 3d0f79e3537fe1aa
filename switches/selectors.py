"""Whether a switch stops something now.

Every new trade asks, so the trade path reads a snapshot of the switches
that are on, kept in the shared cache and for ``SWITCHES_LOCAL_CACHE_SECONDS``
in the process, not the database (a trade costs a handful of statements).
Throwing or lifting a switch drops the snapshot (at once and again after its
commit), so it takes effect everywhere within that second; a snapshot built
from a read that raced the change lives at most ``SNAPSHOT_TIMEOUT``. A
missing snapshot (a flushed cache) is rebuilt from the database: the
switches themselves live only there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from switches.models import AccountFreeze, MethodPause

SNAPSHOT_KEY = "switches:active:v1"
SNAPSHOT_TIMEOUT = 30


@dataclass(frozen=True)
class Snapshot:
    frozen: dict[int, str]  # user id -> reason
    paused: dict[tuple[str, str], str]  # (method, direction) -> reason


_local: tuple[float, Snapshot] | None = None


def _from_database() -> Snapshot:
    return Snapshot(
        frozen=dict(
            AccountFreeze.objects.filter(lifted_at__isnull=True).values_list("user_id", "reason")
        ),
        paused=method_pauses_active(),
    )


def switches_snapshot() -> Snapshot:
    global _local
    ttl = settings.SWITCHES_LOCAL_CACHE_SECONDS
    local = _local
    if local is not None and time.monotonic() - local[0] < ttl:
        return local[1]
    snapshot = cache.get(SNAPSHOT_KEY)
    if snapshot is None:
        snapshot = _from_database()
        cache.set(SNAPSHOT_KEY, snapshot, SNAPSHOT_TIMEOUT)
    _local = (time.monotonic(), snapshot)
    return snapshot


def switches_forget_local() -> None:
    """Drop this process's copy (tests, after the cache is cleared)."""
    global _local
    _local = None


def switches_forget() -> None:
    """Drop the snapshot now and once the caller's transaction commits."""

    def forget():
        global _local
        _local = None
        cache.delete(SNAPSHOT_KEY)

    forget()
    transaction.on_commit(forget)


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
    from switches.errors import AccountFrozen, PaymentMethodPaused

    snapshot = switches_snapshot()
    reason = snapshot.frozen.get(user_id)
    if reason is not None:
        raise AccountFrozen(
            f"Your account is frozen: {reason} Contact support to lift it.",
            details={"account": [reason]},
        )
    reason = snapshot.paused.get((method, "sell" if trade_type == "sell" else "buy"))
    if reason is not None:
        raise PaymentMethodPaused(
            f"This payment method is paused: {reason}",
            details={"payment_method": [reason]},
        )


def money_out_stop_check(*, user_id: int) -> None:
    """Raise (409) when the account is frozen: for withdrawals and anything
    else that sends a user's money out (read from the database)."""
    from switches.errors import AccountFrozen

    freeze = account_freeze_active(user_id=user_id)
    if freeze is not None:
        raise AccountFrozen(
            f"Your account is frozen: {freeze.reason} Contact support to lift it.",
            details={"account": [freeze.reason]},
        )

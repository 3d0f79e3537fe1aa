"""Limits by tier: how much a user may buy, withdraw and top up per day and
per month (in UGX-equivalent), and how many withdrawals per hour.

Tiers: 0 — email not verified (nothing; the money paths refuse such an
account before they get here), 1 — verified email, 2 — identity checked by
staff (``WalletProfile.granted_tier``). The figures are the setting
``WALLET_LIMITS``. Periods are East Africa Time calendar periods: a day
starts at 00:00 EAT, a month on its 1st at 00:00 EAT, an hour at :00.

What counts is ``LimitUsage``: one row per buy, withdrawal or top-up,
converted to UGX at the moment it was used. A check reads running totals
(``LimitTotal``: per user, kind and period), which ``wallet.sql`` moves in
the statement that records or releases a use, so its cost does not grow
with the uses of the month. Checking and recording happen under the lock
of the user's ``WalletProfile`` row (SELECT ... FOR UPDATE), inside the
caller's transaction, so a user's parallel requests pass their limits
strictly one after another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal
from zoneinfo import ZoneInfo

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dtexchange.errors import Conflict, InvalidInput
from ledger.money import CRYPTO_CODES, quantize
from wallet import sql
from wallet.models import LimitKind, LimitUsage, Tier, WalletProfile

log = structlog.get_logger(__name__)

EAT = ZoneInfo(sql.TIME_ZONE)  # the totals are cut in the same zone
KINDS = tuple(LimitKind.values)
# The one count limit: withdrawals per hour.
VELOCITY_NAME = "withdrawals_per_hour"


class LimitExceeded(Conflict):
    code = "limit_exceeded"
    message = "This is above your limit."


@dataclass(frozen=True)
class LimitState:
    """One limit as it stands: ``limit`` and ``used`` are UGX amounts, or a
    number of withdrawals when ``currency`` is None."""

    name: str
    kind: str
    currency: str | None
    period: str  # "day" | "month" | "hour"
    limit: Decimal
    used: Decimal
    resets_at: datetime

    @property
    def remaining(self) -> Decimal:
        return max(self.limit - self.used, Decimal(0))

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "currency": self.currency,
            "period": self.period,
            "limit": format(self.limit, "f"),
            "used": format(self.used, "f"),
            "remaining": format(self.remaining, "f"),
            "resets_at": self.resets_at.isoformat(),
        }


# --- tiers ---------------------------------------------------------------------------


def _tier_of(user, granted: int | None) -> int:
    if getattr(user, "email_verified_at", None) is None or not user.is_active:
        return Tier.UNVERIFIED
    return granted or Tier.VERIFIED


def user_tier(*, user) -> int:
    """0 while the email is not verified (or the account is inactive), else
    the tier staff granted (1 unless raised)."""
    granted = (
        WalletProfile.objects.filter(user_id=user.pk).values_list("granted_tier", flat=True).first()
    )
    return _tier_of(user, granted)


def wallet_profile_lock(*, user) -> int:
    """Lock the user's profile row (created on first use) FOR UPDATE until
    the caller's transaction ends, and return the tier staff granted. The
    limit lock: take it before any ledger account (ledger_post locks those),
    never after. One statement for a returning user."""
    locked = WalletProfile.objects.select_for_update().filter(user_id=user.pk)
    granted = locked.values_list("granted_tier", flat=True).first()
    if granted is None:
        WalletProfile.objects.get_or_create(user_id=user.pk)
        granted = locked.values_list("granted_tier", flat=True).get()
    return granted


# --- periods and conversion --------------------------------------------------------------


def _window(period: str, now: datetime) -> tuple[datetime, datetime]:
    local = timezone.localtime(now, EAT)
    if period == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        # Uganda keeps no daylight saving: a day is 24 h.
        return start, start + timedelta(days=1)
    start = start.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def _ugx_per_usd() -> Decimal:
    """USD→UGX as the price feed implies it (a coin's UGX price over its USD
    price, both legs of one snapshot); LIMITS_UGX_PER_USD when there is none."""
    from trading.services.prices import prices_snapshot  # trading imports this module

    snapshot = prices_snapshot()
    for code in CRYPTO_CODES:
        usd, ugx = snapshot.get((code, "USD")), snapshot.get((code, "UGX"))
        if usd is not None and ugx is not None and usd.price > 0:
            return ugx.price / usd.price
    return settings.LIMITS_UGX_PER_USD


def ugx_equivalent(*, currency: str, amount: Decimal) -> Decimal:
    """``amount`` of a fiat currency in whole UGX, rounded up (a limit is
    never passed by rounding)."""
    if currency == "UGX":
        return amount.quantize(Decimal(1), rounding=ROUND_UP)
    if currency == "USD":
        return (amount * _ugx_per_usd()).quantize(Decimal(1), rounding=ROUND_UP)
    raise InvalidInput(
        f"Limits count UGX and USD amounts, not {currency}.", code="currency_not_supported"
    )


# --- the limits of a tier ------------------------------------------------------------------


def _figures(tier: int) -> dict:
    return settings.WALLET_LIMITS.get(int(tier), settings.WALLET_LIMITS[Tier.UNVERIFIED])


def _windows(now: datetime) -> sql.Windows:
    return sql.Windows(
        month=_window("month", now), day=_window("day", now), hour=_window("hour", now)
    )


def _states(*, tier: int, kinds: tuple[str, ...], windows: sql.Windows, used: dict) -> list:
    """The limits of ``kinds`` given what they used (``sql.used``)."""
    figures = _figures(tier)
    states: list[LimitState] = []
    for kind in kinds:
        daily, monthly = figures[kind]
        use = used.get(kind, sql.NOTHING_USED)
        states.append(
            LimitState(f"{kind}_daily", kind, "UGX", "day", daily, _whole(use.day), windows.day[1])
        )
        states.append(
            LimitState(
                f"{kind}_monthly",
                kind,
                "UGX",
                "month",
                monthly,
                _whole(use.month),
                windows.month[1],
            )
        )
        if kind == LimitKind.WITHDRAWAL:
            states.append(
                LimitState(
                    VELOCITY_NAME,
                    kind,
                    None,
                    "hour",
                    Decimal(figures[VELOCITY_NAME]),
                    Decimal(use.hour),
                    windows.hour[1],
                )
            )
    return states


def _whole(value) -> Decimal:
    return quantize(value or Decimal(0), "UGX")


def limits_for_user(*, user, now: datetime | None = None) -> tuple[int, list[LimitState]]:
    """(tier, every limit as it stands now). Reads only."""
    tier = user_tier(user=user)
    windows = _windows(now or timezone.now())
    used = sql.used(user_id=user.pk, kinds=list(KINDS), windows=windows)
    return tier, _states(tier=tier, kinds=KINDS, windows=windows, used=used)


# --- using a limit ----------------------------------------------------------------------


def limit_consume(
    *,
    user,
    kind: str,
    currency: str,
    amount: Decimal,
    reference: str,
    allow_over: bool = False,
) -> list[LimitState]:
    """Count ``amount`` of ``currency`` (UGX or USD) against the user's
    ``kind`` limits ("buy", "withdrawal" or "top_up") and record it under
    ``reference`` (e.g. "withdrawal:<public id>"), or refuse.

    Contract for the money paths:
    * Call it inside the transaction that moves the money, before
      ``ledger_post`` (it takes the user's limit lock, ``wallet_profile_lock``;
      ledger accounts are always locked after it). The usage commits or rolls
      back with the money: a refused or failed request leaves nothing.
    * Over a limit: raises LimitExceeded (409 ``limit_exceeded``), writing
      nothing; ``details`` name the limit (``limit``: e.g. "withdrawal_daily",
      "withdrawals_per_hour"), its ``period``, ``limit``/``used``/``remaining``
      and ``requested`` in UGX (or a count), the user's ``tier`` and
      ``resets_at`` (ISO 8601).
    * ``allow_over=True`` (money that already arrived, which is credited
      whatever the limit): never raises; the use is recorded and the limits
      it passes are returned, for the caller to flag.
    * Idempotent on ``reference``: consuming again replaces the amount (e.g.
      a bank deposit for another amount than announced) and revives a
      released use. With ``allow_over`` the use keeps counting in the period
      it was first recorded in (unless it had been released); otherwise it
      counts now.
    * Tier 0 (email not verified) has every limit at zero: call
      ``accounts.services.user_verified_require`` first, so such an account
      gets 403 ``email_not_verified`` rather than 409.
    * A use that did not happen after all (the withdrawal was cancelled,
      expired or failed and refunded; the buy failed or expired) is given
      back with ``limit_release(reference=...)``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown limit kind {kind!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("limit_consume runs inside the money's transaction")
    at = timezone.now()
    if allow_over:
        at = _first_counted_at(user=user, reference=reference, default=at)
    amount_ugx = ugx_equivalent(currency=currency, amount=amount)
    windows = _windows(at)
    tier, used, replacing = _lock_and_used(
        user=user, kind=kind, windows=windows, reference=reference
    )
    states = _states(tier=tier, kinds=(kind,), windows=windows, used=used)
    passed = [
        s for s in states if s.used + (Decimal(1) if s.currency is None else amount_ugx) > s.limit
    ]
    if passed and not allow_over:
        first = passed[0]
        resets = timezone.localtime(first.resets_at, EAT)
        raise LimitExceeded(
            f"This is above your {first.name.replace('_', ' ')} limit (tier {tier}); "
            f"it resets at {resets:%d %b %Y %H:%M} EAT.",
            details={
                "limit": first.name,
                "period": first.period,
                "currency": first.currency,
                "limit_amount": format(first.limit, "f"),
                "used": format(first.used, "f"),
                "remaining": format(first.remaining, "f"),
                "requested": "1" if first.currency is None else format(amount_ugx, "f"),
                "tier": tier,
                "resets_at": first.resets_at.isoformat(),
            },
        )
    sql.use_record(
        user_id=user.pk,
        kind=kind,
        reference=reference,
        currency=currency,
        amount=amount,
        amount_ugx=amount_ugx,
        at=at,
        replacing=replacing,
    )
    if passed:
        log.warning("limits.passed", user=user.pk, limits=[s.name for s in passed], ref=reference)
    return passed


def _first_counted_at(*, user, reference: str, default: datetime) -> datetime:
    """Money that arrived counts when it was first used, if that use still counts."""
    existing = (
        LimitUsage.objects.filter(reference=reference)
        .values_list("user_id", "at", "released_at")
        .first()
    )
    if existing is None:
        return default
    if existing[0] != user.pk:
        raise ValueError("a limit reference belongs to one user")
    return existing[1] if existing[2] is None else default


def _lock_and_used(*, user, kind: str, windows: sql.Windows, reference: str):
    """(tier, what ``kind`` used without the use under ``reference``, that
    use locked or None) read under the user's limit lock."""
    granted, used, replacing = sql.lock_and_used(
        user_id=user.pk, kinds=[kind], windows=windows, reference=reference
    )
    if granted is None:  # first use: create the row, then lock it and read again
        WalletProfile.objects.get_or_create(user_id=user.pk)
        granted, used, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=[kind], windows=windows, reference=reference
        )
    return _tier_of(user, granted), used, replacing


def limit_release(*, reference: str) -> bool:
    """Give back the use recorded under ``reference`` (it did not happen after
    all). Idempotent; True when it released something. Only ever lowers what
    is used, so it takes no profile lock. It locks the use row and then the
    user's totals rows in the order a consume does (so the two never
    deadlock on them), until the caller's transaction ends: a consume of the
    same user waits for that commit. Lock order: the totals come after the
    profile lock and before ledger accounts (a consume holds them while it
    posts), so call it before the transaction locks a ledger account of the
    user, unless the same transaction consumed first (it holds them then)."""
    return sql.use_release(reference=reference, now=timezone.now())


def buy_limit_consume(*, user, currency: str, amount: Decimal, reference: str) -> None:
    """Trading's buy-limit hook (registered in WalletConfig.ready)."""
    limit_consume(user=user, kind="buy", currency=currency, amount=amount, reference=reference)

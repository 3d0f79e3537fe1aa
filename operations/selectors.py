"""What operators read: the staff analytics page's figures and the states the
alerts watch. Reads only.

Every query is bounded by the chosen period (at most ``ANALYTICS_MAX_DAYS``)
or by a partial index of the few rows in flight, and runs on an index:
completed trades by ``completed_at`` (``trade_completed_idx``), trades by
``created_at`` (``trade_created_idx``), trades in flight by
``trade_active_idx``, sign-ups by ``date_joined`` (``user_joined_idx``),
a user's later trades by ``trade_user_created_idx``. The page's whole cost
at 100,000 trades is in benchmarks/README.md (``benchmarks/analytics_page.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from notifications.selectors import outbox_oldest_pending_at, outbox_pending_counts
from payments.models import MobileMoneyPayment
from payments.selectors import flagged_payments_open
from trading.models import Trade, TradeStatus
from trading.services.prices import prices_snapshot

FINISHED = (
    TradeStatus.COMPLETED,
    TradeStatus.FAILED,
    TradeStatus.CANCELLED,
    TradeStatus.EXPIRED,
)
ACTIVE = (TradeStatus.PENDING, TradeStatus.PROCESSING)


@dataclass(frozen=True)
class Period:
    """Whole days in the site's time zone, ``start`` to ``end`` inclusive."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def period_default(*, today: date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period(today - timedelta(days=settings.ANALYTICS_DEFAULT_DAYS - 1), today)


# --- the analytics page ---------------------------------------------------------------


@dataclass
class VolumeByMethod:
    """Completed trades' fiat volume, per fiat currency, day and method."""

    # {fiat: {day: {method: (volume, count)}}}
    by_fiat: dict[str, dict[date, dict[str, tuple[Decimal, int]]]] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)


def analytics_volume_by_method(*, period: Period) -> VolumeByMethod:
    rows = (
        Trade.objects.filter(
            status=TradeStatus.COMPLETED,
            completed_at__gte=period.since,
            completed_at__lt=period.until,
        )
        .annotate(day=TruncDate("completed_at"))
        .values_list("fiat_currency", "day", "payment_method")
        .annotate(volume=Sum("fiat_amount"), n=Count("id"))
        .order_by()
    )
    result = VolumeByMethod()
    methods: set[str] = set()
    for fiat, day, method, volume, n in rows:
        result.by_fiat.setdefault(fiat, defaultdict(dict))[day][method] = (volume, n)
        methods.add(method)
    result.methods = sorted(methods)
    return result


@dataclass
class TradeOutcomes:
    """Trades created in the period, by day, crypto currency and status."""

    by_currency: dict[str, dict[str, int]] = field(default_factory=dict)  # {crypto: {status: n}}
    by_day: dict[date, dict[str, int]] = field(default_factory=dict)  # {day: {status: n}}

    def success_rate(self, crypto: str) -> Decimal | None:
        """Completed among the finished trades (those still in flight are not
        judged yet), as a percentage; None when none finished."""
        counts = self.by_currency.get(crypto, {})
        finished = sum(counts.get(s, 0) for s in FINISHED)
        if not finished:
            return None
        return (Decimal(counts.get(TradeStatus.COMPLETED, 0)) * 100 / finished).quantize(
            Decimal("0.1")
        )


def analytics_trade_outcomes(*, period: Period) -> TradeOutcomes:
    rows = (
        Trade.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "crypto_currency", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    outcomes = TradeOutcomes()
    for day, crypto, status, n in rows:
        per_currency = outcomes.by_currency.setdefault(crypto, {})
        per_currency[status] = per_currency.get(status, 0) + n
        per_day = outcomes.by_day.setdefault(day, {})
        per_day[status] = per_day.get(status, 0) + n
    return outcomes


@dataclass(frozen=True)
class SignupDay:
    day: date
    signups: int
    traded: int  # made at least one trade
    # Traded again at least 7 (30) days after signing up, among those who
    # signed up at least 7 (30) days ago (the others cannot have yet).
    again_7: int
    eligible_7: int
    again_30: int
    eligible_30: int


def _traded_after(days: int):
    later = ExpressionWrapper(
        OuterRef("date_joined") + timedelta(days=days), output_field=DateTimeField()
    )
    return Exists(Trade.objects.filter(user=OuterRef("pk"), created_at__gte=later))


def analytics_signups(*, period: Period, now: datetime | None = None) -> list[SignupDay]:
    """Sign-ups per day and how many of them came back to trade 7 and 30
    days after signing up: one query, each user's trades found on the
    (user, created_at) index."""
    now = now or timezone.now()
    rows = (
        get_user_model()
        .objects.filter(date_joined__gte=period.since, date_joined__lt=period.until, is_staff=False)
        .annotate(day=TruncDate("date_joined"))
        .values("day")
        .annotate(
            signups=Count("id"),
            traded=Count("id", filter=Exists(Trade.objects.filter(user=OuterRef("pk")))),
            again_7=Count("id", filter=_traded_after(7)),
            eligible_7=Count("id", filter=Q(date_joined__lte=now - timedelta(days=7))),
            again_30=Count("id", filter=_traded_after(30)),
            eligible_30=Count("id", filter=Q(date_joined__lte=now - timedelta(days=30))),
        )
        .order_by("day")
    )
    found = {row["day"]: row for row in rows}
    empty = dict.fromkeys(
        ("signups", "traded", "again_7", "eligible_7", "again_30", "eligible_30"), 0
    )
    result = []
    for day in period.days():
        row = found.get(day, empty)
        result.append(SignupDay(day=day, **{k: row[k] for k in empty}))
    return result


# --- what is stuck now (the alerts watch the same figures) ---------------------------


def trade_sla(method: str) -> timedelta:
    """How long a trade paid by ``method`` may stay pending or processing."""
    sla = settings.ALERT_TRADE_SLA_SECONDS
    return timedelta(seconds=sla.get(method, sla["default"]))


@dataclass(frozen=True)
class StuckTrades:
    method: str
    count: int
    oldest: datetime
    sla: timedelta


def trades_stuck(*, now: datetime | None = None) -> list[StuckTrades]:
    """Trades pending or processing for longer than their method's SLA, per
    method: one query on the partial index of trades in flight."""
    now = now or timezone.now()
    known = [m for m in settings.ALERT_TRADE_SLA_SECONDS if m != "default"]
    overdue = Q(created_at__lt=now - trade_sla("default")) & ~Q(payment_method__in=known)
    for method in known:
        overdue |= Q(payment_method=method, created_at__lt=now - trade_sla(method))
    rows = (
        Trade.objects.filter(overdue, status__in=ACTIVE)
        .values_list("payment_method")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by("payment_method")
    )
    return [
        StuckTrades(method=method, count=n, oldest=oldest, sla=trade_sla(method))
        for method, n, oldest in rows
    ]


@dataclass(frozen=True)
class Waiting:
    count: int
    oldest: datetime | None


def payments_flagged_open() -> Waiting:
    row = flagged_payments_open().order_by().aggregate(n=Count("id"), oldest=Min("created_at"))
    return Waiting(row["n"], row["oldest"])


def payouts_waiting_for_float() -> Waiting:
    """Payouts held because the Relworx float does not cover them (they
    wait, they are not failed)."""
    row = MobileMoneyPayment.objects.filter(
        direction=MobileMoneyPayment.Direction.PAYOUT,
        status=MobileMoneyPayment.Status.PENDING,
        waiting_reason="low_float",
    ).aggregate(n=Count("id"), oldest=Min("created_at"))
    return Waiting(row["n"], row["oldest"])


@dataclass(frozen=True)
class OutboxState:
    pending: dict[str, int]
    oldest_pending_seconds: float


def outbox_state(*, now: datetime | None = None) -> OutboxState:
    now = now or timezone.now()
    oldest = outbox_oldest_pending_at()
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return OutboxState(pending=outbox_pending_counts(), oldest_pending_seconds=age)


@dataclass(frozen=True)
class PriceHealth:
    pair: str
    source: str
    crypto_age_seconds: float  # the market price's age (what quotes are judged on)
    crypto_limit_seconds: float  # PRICE_MAX_AGE
    fx_age_seconds: float | None  # the USD->fiat rate's age (None for USD pairs)
    fx_limit_seconds: float  # FX_MAX_AGE
    stale: bool

    @property
    def overdue_seconds(self) -> float:
        """How long past its limit the staler leg is (negative: fresh)."""
        crypto = self.crypto_age_seconds - self.crypto_limit_seconds
        if self.fx_age_seconds is None:
            return crypto
        return max(crypto, self.fx_age_seconds - self.fx_limit_seconds)


def price_health(*, now: datetime | None = None) -> list[PriceHealth]:
    """Each cached pair's source, the age of each leg against its limit, and
    whether trading would refuse it as stale (no database query: the shared
    price cache)."""
    now = now or timezone.now()
    return [
        PriceHealth(
            pair=f"{crypto}/{fiat}",
            source=price.source,
            crypto_age_seconds=max(0.0, price.crypto_age_seconds(now)),
            crypto_limit_seconds=settings.PRICE_MAX_AGE.total_seconds(),
            fx_age_seconds=(max(0.0, (now - price.fx_at).total_seconds()) if price.fx_at else None),
            fx_limit_seconds=settings.FX_MAX_AGE.total_seconds(),
            stale=price.is_stale(now),
        )
        for (crypto, fiat), price in sorted(prices_snapshot().items())
    ]


@dataclass
class Analytics:
    period: Period
    volume: VolumeByMethod
    outcomes: TradeOutcomes
    signups: list[SignupDay]
    stuck: list[StuckTrades]
    flagged: Waiting
    payouts_float: Waiting
    outbox: OutboxState
    prices: list[PriceHealth]


def analytics_get(*, period: Period, now: datetime | None = None) -> Analytics:
    now = now or timezone.now()
    return Analytics(
        period=period,
        volume=analytics_volume_by_method(period=period),
        outcomes=analytics_trade_outcomes(period=period),
        signups=analytics_signups(period=period, now=now),
        stuck=trades_stuck(now=now),
        flagged=payments_flagged_open(),
        payouts_float=payouts_waiting_for_float(),
        outbox=outbox_state(now=now),
        prices=price_health(now=now),
    )


def alerts_open():
    """Open alerts, oldest first (the admin index shows them)."""
    from operations.models import Alert

    return Alert.objects.filter(state=Alert.State.OPEN).order_by("opened_at", "pk")

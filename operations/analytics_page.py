"""The staff analytics page's charts and tables, from operations.selectors'
figures (formatting only: no query here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone

from ledger.money import quantize
from operations.charts import Series, horizontal_bars, stacked_bars
from operations.selectors import FINISHED, Analytics, Period


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The end of the period is before its start.")
            if (end - start).days + 1 > settings.ANALYTICS_MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {settings.ANALYTICS_MAX_DAYS} days.")
            if end > timezone.localdate() + timedelta(days=1):
                raise forms.ValidationError("The period cannot end in the future.")
        return cleaned

    def period(self) -> Period:
        return Period(self.cleaned_data["start"], self.cleaned_data["end"])


def _day(d: date) -> str:
    return d.strftime("%d %b")


@dataclass
class Chart:
    id: str
    title: str
    svg: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def _volume_charts(analytics: Analytics) -> list[Chart]:
    days = analytics.period.days()
    methods = analytics.volume.methods
    charts = []
    for fiat in sorted(analytics.volume.by_fiat) or [settings.ANALYTICS_MAIN_FIAT]:
        per_day = analytics.volume.by_fiat.get(fiat, {})
        series = [
            Series(m, [per_day.get(d, {}).get(m, (Decimal(0), 0))[0] for d in days])
            for m in methods
        ]
        rows = []
        for d in days:
            cells = [quantize(per_day.get(d, {}).get(m, (Decimal(0), 0))[0], fiat) for m in methods]
            if any(cells):
                rows.append([_day(d), *(f"{c:,}" for c in cells), f"{sum(cells):,}"])
        chart_id = f"volume-{fiat.lower()}"
        charts.append(
            Chart(
                id=chart_id,
                title=f"Completed volume per day by payment method ({fiat})",
                svg=stacked_bars(
                    chart_id=f"{chart_id}-svg",
                    title=f"Completed volume per day by payment method, {fiat}",
                    labels=[_day(d) for d in days],
                    series=series,
                ),
                headers=["Day", *methods, "Total"],
                rows=rows,
            )
        )
    return charts


def _success_chart(analytics: Analytics) -> Chart:
    outcomes = analytics.outcomes
    rows, bars = [], []
    for crypto in sorted(outcomes.by_currency):
        counts = outcomes.by_currency[crypto]
        rate = outcomes.success_rate(crypto)
        finished = sum(counts.get(s, 0) for s in FINISHED)
        shown = f"{rate}%" if rate is not None else "no finished trade"
        bars.append((crypto, rate or 0, shown))
        rows.append(
            [
                crypto,
                str(counts.get("completed", 0)),
                str(finished - counts.get("completed", 0)),
                str(sum(counts.values()) - finished),
                shown,
            ]
        )
    return Chart(
        id="success",
        title="Success rate by currency (completed among finished trades)",
        svg=horizontal_bars(
            chart_id="success-svg", title="Success rate by crypto currency", rows=bars, maximum=100
        ),
        headers=["Currency", "Completed", "Failed, expired or cancelled", "In flight", "Success"],
        rows=rows,
    )


def _signup_chart(analytics: Analytics) -> Chart:
    days = analytics.signups
    rows = [
        [
            _day(s.day),
            str(s.signups),
            str(s.traded),
            f"{s.again_7} of {s.eligible_7}",
            f"{s.again_30} of {s.eligible_30}",
        ]
        for s in days
        if s.signups
    ]
    total = [sum(getattr(s, f) for s in days) for f in ("signups", "traded", "again_7", "again_30")]
    eligible = [sum(s.eligible_7 for s in days), sum(s.eligible_30 for s in days)]
    rows.append(
        [
            "Whole period",
            str(total[0]),
            str(total[1]),
            f"{total[2]} of {eligible[0]}",
            f"{total[3]} of {eligible[1]}",
        ]
    )
    return Chart(
        id="signups",
        title="New sign-ups and who traded again 7 and 30 days later",
        svg=stacked_bars(
            chart_id="signups-svg",
            title="Sign-ups per day: not yet traded, traded, traded again after 7 days",
            labels=[_day(s.day) for s in days],
            series=[
                Series("never traded", [s.signups - s.traded for s in days]),
                Series("traded", [s.traded - s.again_7 for s in days]),
                Series("traded again after 7 days", [s.again_7 for s in days]),
            ],
        ),
        headers=["Day", "Sign-ups", "Traded", "Again after 7 days", "Again after 30 days"],
        rows=rows,
    )


def _failures_chart(analytics: Analytics) -> Chart:
    days = analytics.period.days()
    by_day = analytics.outcomes.by_day
    kinds = ("failed", "expired", "cancelled")
    rows = [
        [_day(d), *(str(by_day.get(d, {}).get(k, 0)) for k in kinds)]
        for d in days
        if any(by_day.get(d, {}).get(k) for k in kinds)
    ]
    return Chart(
        id="failures",
        title="Failed, expired and cancelled trades per day (by the day they were made)",
        svg=stacked_bars(
            chart_id="failures-svg",
            title="Failed, expired and cancelled trades per day",
            labels=[_day(d) for d in days],
            series=[Series(k, [by_day.get(d, {}).get(k, 0) for d in days]) for k in kinds],
        ),
        headers=["Day", "Failed", "Expired", "Cancelled"],
        rows=rows,
    )


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _stuck_chart(analytics: Analytics, now) -> Chart:
    bars, rows = [], []
    for s in analytics.stuck:
        bars.append((f"stuck {s.method}", s.count, str(s.count)))
        rows.append(
            [
                f"Trades past their SLA ({s.method}, {_minutes(s.sla.total_seconds())})",
                str(s.count),
                _minutes((now - s.oldest).total_seconds()),
            ]
        )
    for label, short, waiting in (
        ("Flagged payments open", "flagged", analytics.flagged),
        ("Payouts waiting for float", "low float", analytics.payouts_float),
    ):
        bars.append((short, waiting.count, str(waiting.count)))
        age = _minutes((now - waiting.oldest).total_seconds()) if waiting.oldest else "-"
        rows.append([label, str(waiting.count), age])
    pending = sum(analytics.outbox.pending.values())
    bars.append(("outbox pending", pending, str(pending)))
    rows.append(
        [
            "Outbox deliveries pending ("
            + ", ".join(f"{k} {v}" for k, v in sorted(analytics.outbox.pending.items()))
            + ")",
            str(pending),
            _minutes(analytics.outbox.oldest_pending_seconds) if pending else "-",
        ]
    )
    return Chart(
        id="stuck",
        title="Stuck now",
        svg=horizontal_bars(chart_id="stuck-svg", title="Items stuck now", rows=bars),
        headers=["What", "How many", "Oldest waiting"],
        rows=rows,
    )


def _prices_chart(analytics: Analytics) -> Chart:
    prices = analytics.prices
    return Chart(
        id="prices",
        title="Price source health (age of each market price against its limit)",
        svg=horizontal_bars(
            chart_id="prices-svg",
            title="Age of each market price; the red mark is the age at which it is stale",
            rows=[(p.pair, p.crypto_age_seconds, _minutes(p.crypto_age_seconds)) for p in prices],
            limits=[p.crypto_limit_seconds for p in prices],
            maximum=max(
                (max(p.crypto_age_seconds, p.crypto_limit_seconds) for p in prices), default=1
            ),
        ),
        headers=["Pair", "Source", "Market price age", "FX rate age", "State"],
        rows=[
            [
                p.pair,
                p.source,
                f"{_minutes(p.crypto_age_seconds)} (limit {_minutes(p.crypto_limit_seconds)})",
                (
                    f"{_minutes(p.fx_age_seconds)} (limit {_minutes(p.fx_limit_seconds)})"
                    if p.fx_age_seconds is not None
                    else "-"
                ),
                "stale" if p.stale else "fresh",
            ]
            for p in prices
        ],
    )


def analytics_page_context(analytics: Analytics) -> dict:
    now = timezone.now()
    return {
        "charts": [
            *_volume_charts(analytics),
            _success_chart(analytics),
            _signup_chart(analytics),
            _failures_chart(analytics),
            _stuck_chart(analytics, now),
            _prices_chart(analytics),
        ],
        "period": analytics.period,
        "time_zone": settings.TIME_ZONE,
    }

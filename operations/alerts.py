"""Alerts: conditions past their SLA (the thresholds are settings), each one
alert that is sent once when it opens, again every ``ALERT_REPEAT_SECONDS``
while it stays open, and once more when it clears.

``alerts_check`` is run by beat (which also records beat's heartbeat) and by
``manage.py alerts_check``, the watchdog a timer runs outside Celery: only
it can notice that beat (or the worker running beat's tasks) fell silent.

Two checks at once never send one alert twice: opening relies on the unique
open alert per condition, repeating and resolving are compare-and-set on the
alert row. An alert's email is sent inside the transaction that records it,
so a failed send rolls the record back and the next check tries again (at
least once; a second copy only if the commit itself fails after sending).
The webhook is best effort beside the email: its failure is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from operations import selectors
from operations.models import Alert, Heartbeat

log = structlog.get_logger(__name__)

BEAT = "beat"


@dataclass(frozen=True)
class Condition:
    rule: str
    subject: str
    summary: str

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}" if self.subject else self.rule


@dataclass
class AlertReport:
    opened: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


def _age(now: datetime, then: datetime | None) -> float:
    return (now - then).total_seconds() if then else 0.0


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def alert_conditions(*, now: datetime | None = None) -> list[Condition]:
    """Every condition open now, by the rules and thresholds in settings."""
    now = now or timezone.now()
    found: list[Condition] = []
    for stuck in selectors.trades_stuck(now=now):
        found.append(
            Condition(
                "trades_stuck",
                stuck.method,
                f"{stuck.count} {stuck.method} trade(s) pending or processing longer than "
                f"{_duration(stuck.sla.total_seconds())}; the oldest for "
                f"{_duration(_age(now, stuck.oldest))}",
            )
        )
    flagged = selectors.payments_flagged_open()
    if flagged.count and _age(now, flagged.oldest) >= settings.ALERT_FLAGGED_PAYMENT_SECONDS:
        found.append(
            Condition(
                "payments_flagged",
                "",
                f"{flagged.count} flagged payment(s) wait for a person; the oldest for "
                f"{_duration(_age(now, flagged.oldest))}",
            )
        )
    outbox = selectors.outbox_state(now=now)
    if outbox.oldest_pending_seconds > settings.ALERT_OUTBOX_OLDEST_PENDING_SECONDS:
        waiting = ", ".join(f"{k} {v}" for k, v in sorted(outbox.pending.items()) if v)
        found.append(
            Condition(
                "outbox_backlog",
                "",
                f"the oldest undelivered outbox event is "
                f"{_duration(outbox.oldest_pending_seconds)} old (pending: {waiting or 'none'})",
            )
        )
    prices = selectors.price_health(now=now)
    stale = [p for p in prices if p.overdue_seconds > settings.ALERT_PRICE_STALE_SECONDS]
    if not prices:
        found.append(Condition("prices_stale", "", "no price is cached: trading is refused"))
    elif stale:
        found.append(
            Condition(
                "prices_stale",
                "",
                "stale: "
                + ", ".join(
                    f"{p.pair} ({p.source}, {_duration(p.overdue_seconds)} past its limit)"
                    for p in stale
                ),
            )
        )
    payouts = selectors.payouts_waiting_for_float()
    if payouts.count and _age(now, payouts.oldest) >= settings.ALERT_PAYOUT_FLOAT_WAIT_SECONDS:
        found.append(
            Condition(
                "payouts_waiting_float",
                "",
                f"{payouts.count} payout(s) wait for the Relworx float; the oldest for "
                f"{_duration(_age(now, payouts.oldest))}",
            )
        )
    beat = Heartbeat.objects.filter(name=BEAT).values_list("at", flat=True).first()
    if beat is None or _age(now, beat) > settings.ALERT_BEAT_SILENT_SECONDS:
        found.append(
            Condition(
                "beat_silent",
                "",
                "Celery beat has never run the alert check"
                if beat is None
                else f"Celery beat last ran the alert check {_duration(_age(now, beat))} ago",
            )
        )
    return found


def _subject(alert: Alert, event: str) -> str:
    what = {"opened": "ALERT", "repeated": "STILL OPEN", "resolved": "RESOLVED"}[event]
    return f"[DT Exchange] {what}: {alert.key}"


def _body(alert: Alert, event: str, now: datetime) -> str:
    if event == "resolved":
        return (
            f"{alert.key} has cleared after {_duration(_age(now, alert.opened_at))}.\n\n"
            f"Last seen: {alert.summary}\n"
        )
    return (
        f"{alert.summary}\n\nOpen since {alert.opened_at:%Y-%m-%d %H:%M:%S %Z} "
        f"({_duration(_age(now, alert.opened_at))}). This is repeated every "
        f"{_duration(settings.ALERT_REPEAT_SECONDS)} while it stays open, and a last "
        "message says when it clears.\n"
    )


def _send(alert: Alert, event: str, now: datetime) -> None:
    """Email (raises: the caller's transaction rolls back), then the webhook
    (best effort)."""
    if settings.ALERT_EMAILS:
        send_mail(
            _subject(alert, event),
            _body(alert, event, now),
            None,
            settings.ALERT_EMAILS,
        )
    if settings.ALERT_WEBHOOK_URL:
        payload = {
            "event": event,
            "alert": alert.key,
            "rule": alert.rule,
            "subject": alert.subject,
            "summary": alert.summary,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "times_sent": alert.times_sent,
        }
        try:
            response = httpx.post(
                settings.ALERT_WEBHOOK_URL,
                json=payload,
                timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("alert.webhook_failed", alert=alert.key, alert_event=event, error=str(exc))
    log.warning(f"alert.{event}", alert=alert.key, summary=alert.summary)


def heartbeat_record(*, name: str, now: datetime | None = None) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"at": now or timezone.now()})


def alerts_check(*, now: datetime | None = None, from_beat: bool = False) -> AlertReport:
    """Open, repeat and resolve alerts against the conditions now. Safe to
    run twice at once and at any frequency."""
    now = now or timezone.now()
    if from_beat:
        heartbeat_record(name=BEAT, now=now)
    report = AlertReport()
    conditions = {c.key: c for c in alert_conditions(now=now)}
    open_alerts = {a.key: a for a in Alert.objects.filter(state=Alert.State.OPEN)}
    repeat_after = timedelta(seconds=settings.ALERT_REPEAT_SECONDS)
    for key, condition in conditions.items():
        alert = open_alerts.get(key)
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        rule=condition.rule,
                        subject=condition.subject,
                        summary=condition.summary[:255],
                        opened_at=now,
                        last_sent_at=now,
                    )
                    _send(alert, "opened", now)
            except IntegrityError:
                continue  # another check opened it at the same moment
            report.opened.append(key)
        elif now - alert.last_sent_at >= repeat_after:
            with transaction.atomic():
                moved = Alert.objects.filter(
                    pk=alert.pk, state=Alert.State.OPEN, last_sent_at=alert.last_sent_at
                ).update(
                    last_sent_at=now,
                    times_sent=F("times_sent") + 1,
                    summary=condition.summary[:255],
                )
                if moved:
                    alert.refresh_from_db()
                    _send(alert, "repeated", now)
                    report.repeated.append(key)
        elif alert.summary != condition.summary[:255]:
            Alert.objects.filter(pk=alert.pk, state=Alert.State.OPEN).update(
                summary=condition.summary[:255]
            )
    for key, alert in open_alerts.items():
        if key in conditions:
            continue
        with transaction.atomic():
            moved = Alert.objects.filter(pk=alert.pk, state=Alert.State.OPEN).update(
                state=Alert.State.RESOLVED, resolved_at=now
            )
            if moved:
                alert.refresh_from_db()
                _send(alert, "resolved", now)
                report.resolved.append(key)
    return report

"""Alerts: one row per open condition (a rule and its subject), kept when it
clears as the history of what went wrong and for how long."""

from django.db import models
from django.utils import timezone


class Alert(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    # The condition: the rule and what it is about, e.g. "trades_stuck" and
    # "mobile_money"; one open alert per (rule, subject).
    rule = models.CharField(max_length=64)
    subject = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    summary = models.CharField(max_length=255)  # the latest figures, in words
    opened_at = models.DateTimeField(default=timezone.now)
    last_sent_at = models.DateTimeField(default=timezone.now)
    times_sent = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(state="open"),
                name="alert_one_open_per_condition",
            )
        ]
        indexes = [
            models.Index(
                fields=["opened_at"], name="alert_open_idx", condition=models.Q(state="open")
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule}:{self.subject} ({self.state})"

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}" if self.subject else self.rule


class Heartbeat(models.Model):
    """When a periodic job last ran (``beat``: the alert check run by beat),
    in the database so a flushed cache cannot fake or hide a silence."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"

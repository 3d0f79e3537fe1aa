"""Stop switches. A row is one switch thrown: on from ``created_at`` until a
second admin confirms the lift another admin asked for (four eyes)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class _Switch(models.Model):
    reason = models.CharField(max_length=255)  # shown to the customer
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    lift_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_requested_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class AccountFreeze(_Switch):
    """No trades, withdrawals or payouts for this account; sign-in still
    works and the user is told why."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="freezes"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(lifted_at__isnull=True),
                name="freeze_one_active_per_user",
            ),
            # Four eyes, in the database too: the lift's two people differ.
            models.CheckConstraint(
                condition=models.Q(lifted_by__isnull=True)
                | ~models.Q(lifted_by=models.F("lift_requested_by")),
                name="freeze_lift_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"freeze of user {self.user_id} ({'on' if self.active else 'lifted'})"


class MethodPause(_Switch):
    """New trades by this payment method (``buy``: paying with it; ``sell``:
    being paid out by it) are refused; trades in flight finish."""

    class Direction(models.TextChoices):
        BUY = "buy", "Payments (buy)"
        SELL = "sell", "Payouts (sell)"

    method = models.CharField(max_length=32)  # a payment method's code
    direction = models.CharField(max_length=4, choices=Direction.choices)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["method", "direction"],
                condition=models.Q(lifted_at__isnull=True),
                name="pause_one_active_per_method",
            ),
            models.CheckConstraint(
                condition=models.Q(lifted_by__isnull=True)
                | ~models.Q(lifted_by=models.F("lift_requested_by")),
                name="pause_lift_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"pause of {self.method} {self.direction} ({'on' if self.active else 'lifted'})"

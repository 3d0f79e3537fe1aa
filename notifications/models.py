from django.conf import settings
from django.db import models


class OutboxEvent(models.Model):
    """A domain event written in the same database transaction as the change
    it describes (transactional outbox). A dispatcher delivers it after commit
    to the channel layer and to email; a rolled-back change leaves no row."""

    kind = models.CharField(max_length=64)  # "trade.updated", "price.updated", ...
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # None: public
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set once every delivery of the event is settled (delivered or expired).
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="outbox_undelivered_idx",
                condition=models.Q(delivered_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class OutboxDelivery(models.Model):
    """One destination of one event. The unique (event, destination) pair and
    the row lock taken before sending are what make delivery happen once per
    destination, however many dispatchers run at the same time."""

    class Destination(models.TextChoices):
        LIVE = "live", "Live (channel layer)"
        EMAIL = "email", "Email"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        # A live price update nobody received in time: a newer price supersedes it.
        EXPIRED = "expired", "Expired"
        # Gave up: bounded attempts used, or a permanent error (no template, no user).
        FAILED = "failed", "Failed"

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.CharField(max_length=16, choices=Destination.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Email: a dispatcher queued a send task for it; no other dispatcher
    # queues it again before then (if the task is lost, it is re-queued after).
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "destination"], name="outbox_delivery_once_per_destination"
            )
        ]
        indexes = [
            models.Index(
                fields=["destination", "next_attempt_at"],
                name="outbox_delivery_due_idx",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.destination} ({self.status})"


class Announcement(models.Model):
    """A message from staff to every user of the site; saving one publishes it."""

    class Level(models.TextChoices):
        INFO = "info", "Information"
        WARNING = "warning", "Warning"

    title = models.CharField(max_length=120, blank=True)
    body = models.TextField()
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.INFO)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title or self.body[:60]

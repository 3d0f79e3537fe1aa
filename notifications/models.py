from django.db import models


class OutboxEvent(models.Model):
    """A domain event written in the same database transaction as the change
    it describes (transactional outbox). A dispatcher delivers it after commit
    to the channel layer and to email; a rolled-back change leaves no row."""

    kind = models.CharField(max_length=64)  # "trade.updated", "price.updated", ...
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # None: public
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
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

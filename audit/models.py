"""The audit trail: one append-only, hash-chained list of what staff (and the
system on their behalf) did to money and to people's access.

Each event stores the SHA-256 of its own contents and the hash of the event
before it (``prev_hash``), so editing, inserting or deleting any row breaks
the chain from there on; ``manage.py audit_verify`` walks it. The database
refuses UPDATE and DELETE (triggers, migration 0002); the model refuses too.
Appends are serialized by the row lock on ``AuditChainHead`` (see
``audit.services.audit_record``), so parallel actions still make one chain.

The app imports no other app (like notifications): every app may record.
"""

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    seq = models.BigIntegerField(unique=True, help_text="Position in the chain, from 1")
    created_at = models.DateTimeField(db_index=True)
    # Who: a user (staff, or the person signing in), else a label such as
    # "command:fund_reserve" or "system:demo" for actions without a person.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(max_length=100, blank=True)
    # What: "<area>.<verb>", e.g. "deposit.approve", "admin.sign_in_failed".
    action = models.CharField(max_length=64, db_index=True)
    # Which object: "<app>.<model>" and its primary key, as text.
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Whose money or access it concerns (the data export lists these).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    ip = models.CharField(max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["subject", "seq"], name="audit_subject_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class AuditChainHead(models.Model):
    """One row (pk 1): the last event's seq and hash. Appenders lock it, which
    is what serializes them; ``audit_verify`` checks it against the last event
    (a chain cut short at the end leaves the head pointing past it)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"

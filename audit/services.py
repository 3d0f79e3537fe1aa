"""Recording to the audit trail (``audit_record``)."""

from datetime import UTC

import structlog
from django.db import models, transaction
from django.utils import timezone

from audit.hashing import event_hash, jsonable
from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent

log = structlog.get_logger(__name__)


def _head_for_update() -> AuditChainHead:
    # The head row may be missing (a fresh or flushed database): create it
    # without racing another appender (INSERT ... ON CONFLICT DO NOTHING),
    # then lock it. The lock is held until the caller's transaction ends.
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(id=1, seq=0, hash=GENESIS_HASH)], ignore_conflicts=True
    )
    return AuditChainHead.objects.select_for_update().get(pk=1)


def _object_ref(obj) -> tuple[str, str]:
    if obj is None:
        return "", ""
    return obj._meta.label_lower, str(obj.pk)


def _request_id() -> str:
    return str(structlog.contextvars.get_contextvars().get("request_id", ""))[:64]


def audit_record(
    *,
    action: str,
    actor=None,
    actor_label: str = "",
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    subject=None,
    before: dict | None = None,
    after: dict | None = None,
    data: dict | None = None,
    ip: str = "",
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to the chain and return it.

    ``actor`` is the user who acted (staff, or a person signing in); for an
    action without one, ``actor_label`` says what acted (``"command:fund_reserve"``).
    ``obj`` (a model instance) or ``object_type``/``object_id`` name the object;
    ``subject`` is the user whose money or access it concerns. ``before`` /
    ``after`` / ``data`` are JSON (Decimals and datetimes become strings).
    The request id is the one bound to the logs unless given.

    Runs inside the caller's transaction (one is opened if there is none), so
    the event commits or rolls back with the action it records. It locks the
    chain head row until that transaction ends: audited actions run one after
    another, which is what keeps the chain linear. The new head is logged
    (``audit.appended``) after commit.
    """
    if not action:
        raise ValueError("An audit event needs an action.")
    if actor is None and not actor_label:
        raise ValueError("An audit event needs an actor or an actor_label.")
    if obj is not None:
        object_type, object_id = _object_ref(obj)
    fields = {
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": actor_label[:100],
        "action": action[:64],
        "object_type": object_type[:64],
        "object_id": str(object_id)[:64],
        "subject_id": subject.pk if subject is not None else None,
        "before": jsonable(before),
        "after": jsonable(after),
        "data": jsonable(data) or {},
        "request_id": (request_id if request_id is not None else _request_id())[:64],
        "ip": (ip or "")[:45],
    }
    with transaction.atomic():
        head = _head_for_update()
        seq = head.seq + 1
        # After the lock, so times never go backwards along the chain.
        created_at = timezone.now().astimezone(UTC)
        digest = event_hash(seq=seq, created_at=created_at, prev_hash=head.hash, **fields)
        event = AuditEvent.objects.create(
            seq=seq, created_at=created_at, prev_hash=head.hash, hash=digest, **fields
        )
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=digest, updated_at=created_at)
    transaction.on_commit(
        lambda: log.info("audit.appended", seq=seq, hash=digest, audit_action=fields["action"])
    )
    return event

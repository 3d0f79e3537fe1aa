"""Reading the audit trail: walking the chain (``audit_chain_verify``), the
head (``audit_chain_head``), and the events about one person."""

from dataclasses import dataclass

from django.db.models import QuerySet

from audit.hashing import stored_hash
from audit.models import GENESIS_HASH, AuditChainHead, AuditEvent

_BATCH = 2000


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    # The first broken link, or None when the chain is whole.
    broken_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def audit_chain_head() -> tuple[int, str]:
    """(seq, hash) of the last event, (0, GENESIS_HASH) for an empty trail."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last is not None else (0, GENESIS_HASH)


def audit_chain_verify(*, expect: tuple[int, str] | None = None) -> ChainReport:
    """Walk the whole chain in order and report the first broken link.

    A link is broken when an event's contents do not give its stored hash
    (the row was edited), its ``prev_hash`` is not the previous event's hash
    (a row was inserted or replaced), or its seq is not the previous plus one
    (rows were deleted). The head row must name the last event (rows cut off
    the end). ``expect`` is a (seq, hash) recorded outside the database (a
    backup manifest, a log line): that event must still be in the chain with
    that hash, which also catches a chain rewritten from some point on.
    """
    prev_seq, prev_hash, count = 0, GENESIS_HASH, 0
    expect_seen = expect is None or expect[0] == 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gt=prev_seq).order_by("seq")[:_BATCH])
        for event in batch:
            where = f"event #{event.seq} (id {event.pk}, {event.action})"
            if event.seq != prev_seq + 1:
                return _broken(
                    count,
                    prev_seq + 1,
                    f"event #{prev_seq + 1} is missing: {where} follows #{prev_seq}",
                )
            if event.prev_hash != prev_hash:
                return _broken(
                    count, event.seq, f"{where} does not link to the hash of #{prev_seq}"
                )
            if stored_hash(event) != event.hash:
                return _broken(
                    count, event.seq, f"{where} was altered: its contents do not match its hash"
                )
            if expect is not None and event.seq == expect[0]:
                if event.hash != expect[1]:
                    return _broken(
                        count,
                        event.seq,
                        f"{where} has hash {event.hash}, but {expect[1]} was recorded for it",
                    )
                expect_seen = True
            prev_seq, prev_hash = event.seq, event.hash
            count += 1
        if len(batch) < _BATCH:
            break
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.hash) != (prev_seq, prev_hash):
        return _broken(
            count,
            prev_seq + 1 if head.seq > prev_seq else head.seq,
            f"the chain head names #{head.seq} {head.hash}, but the last event is #{prev_seq}",
        )
    if not expect_seen:
        return _broken(
            count, expect[0], f"event #{expect[0]} was recorded but is no longer in the chain"
        )
    return ChainReport(count=count, head_seq=prev_seq, head_hash=prev_hash)


def _broken(count: int, seq: int, problem: str) -> ChainReport:
    return ChainReport(count=count, head_seq=0, head_hash="", broken_seq=seq, problem=problem)


def audit_events_about_user(*, user) -> QuerySet[AuditEvent]:
    """Events whose subject is ``user``, oldest first. Not the events where
    ``user`` (as staff) acted on someone else: those are about that person."""
    return AuditEvent.objects.filter(subject=user).order_by("seq")

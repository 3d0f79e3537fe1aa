"""How an event's hash is computed: SHA-256 over a canonical JSON of every
stored field (sorted keys, no spaces, UTF-8) plus the previous event's hash.

Values are normalized before they are stored *and* hashed (Decimal and
datetime become strings), so what the database gives back hashes the same.
Changing this function breaks every existing chain: add a new ``v`` instead.
"""

import hashlib
import json
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder

VERSION = 1


class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, Decimal):
            # Without trailing zeros: a stored NUMERIC(38, 18) and the amount
            # typed read the same ("50000", not "50000.000000000000000000").
            return format(o.normalize(), "f") if o.is_finite() else str(o)
        return super().default(o)


def jsonable(value):
    """``value`` as plain JSON types (Decimal -> "1.5", datetime -> ISO text)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=_Encoder))


def event_hash(
    *,
    seq: int,
    created_at,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    subject_id: int | None,
    before,
    after,
    data,
    request_id: str,
    ip: str,
    prev_hash: str,
) -> str:
    body = {
        "v": VERSION,
        "seq": seq,
        "created_at": created_at.isoformat(),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "subject_id": subject_id,
        "before": before,
        "after": after,
        "data": data,
        "request_id": request_id,
        "ip": ip,
        "prev_hash": prev_hash,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def stored_hash(event) -> str:
    """The hash an event row *should* have, from what is stored in it."""
    return event_hash(
        seq=event.seq,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        subject_id=event.subject_id,
        before=event.before,
        after=event.after,
        data=event.data,
        request_id=event.request_id,
        ip=event.ip,
        prev_hash=event.prev_hash,
    )

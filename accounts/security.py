"""Account security events: sign-in sessions ending (so live sockets close
with them), and the "was this you?" alerts."""

from __future__ import annotations

from notifications.routing import session_fingerprint
from notifications.services import outbox_emit


def sessions_ended(*, user_id: int, session_key: str | None = None) -> None:
    """Record that one session (``session_key``) or every session (None) of a
    user ended: after commit, the WebSocket consumer closes the sockets that
    such a session's cookie authenticated (through the outbox)."""
    payload = (
        {"all": True} if session_key is None else {"session": session_fingerprint(session_key)}
    )
    outbox_emit(kind="session.ended", payload=payload, user_id=user_id)

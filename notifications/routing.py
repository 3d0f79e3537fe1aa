"""Where each event kind goes.

Live: the channel layer, group ``user.<id>`` for a user's events and
``public`` for everyone's, with the message types the WebSocket consumer
handles. Email: the template a user's event asks for, if any.
"""

from typing import Any

PUBLIC_GROUP = "public"

# Event kind -> message type on the socket (and handler name on the consumer).
LIVE_TYPES = {
    "trade.updated": "trade_update",
    "withdrawal.updated": "withdrawal_update",
    # A wallet top-up changed (the owner's socket; an email once credited).
    "deposit.updated": "deposit_update",
    "price.updated": "price_update",
    "notification": "notification",
    "announcement": "announcement",
    "activity": "activity",
    # A sign-in session ended (log-out, password change, "this wasn't me"):
    # the user's sockets authenticated by that session's cookie close.
    "session.ended": "session_ended",
}
# Per-user kinds go to their owner only; without a user they go nowhere live.
USER_ONLY_KINDS = {
    "trade.updated",
    "withdrawal.updated",
    "deposit.updated",
    "notification",
    "session.ended",
}
EMAIL_KIND_PREFIX = "email."
LATE_PAYMENT_TEMPLATE = "late_payment_credited"
TOP_UP_TEMPLATE = "top_up_credited"


def session_fingerprint(session_key: str | None) -> str:
    """How a sign-in session is named in "session.ended" events (never by
    its key, which would let a reader of the outbox take the session)."""
    import hashlib

    return hashlib.sha256(f"session:{session_key or ''}".encode()).hexdigest()[:32]


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def live_target(*, kind: str, user_id: int | None) -> tuple[str, str] | None:
    """(group, message type) for the live delivery of an event, or None."""
    message_type = LIVE_TYPES.get(kind)
    if message_type is None:
        return None
    if kind in USER_ONLY_KINDS:
        return (user_group(user_id), message_type) if user_id is not None else None
    return PUBLIC_GROUP, message_type


def email_template(*, kind: str, user_id: int | None, payload: dict[str, Any]) -> str | None:
    """The email template an event is sent with, or None for no email."""
    if kind.startswith(EMAIL_KIND_PREFIX):
        return kind.removeprefix(EMAIL_KIND_PREFIX) or None
    if user_id is None:
        return None
    if kind == "trade.updated":
        status = payload.get("status")
        if status == payload.get("previous_status"):
            return None  # not a state change: nothing new to tell
        if status == "completed":
            return "sell_completed" if payload.get("trade_type") == "sell" else "buy_completed"
        if status == "failed":
            return "trade_failed"
        return None
    if kind == "deposit.updated":
        if payload.get("status") == "completed" and payload.get("previous_status") != "completed":
            return TOP_UP_TEMPLATE
        return None
    if kind == "notification" and (
        payload.get("late_payment") or payload.get("email") == LATE_PAYMENT_TEMPLATE
    ):
        return LATE_PAYMENT_TEMPLATE
    return None


def destinations_for(*, kind: str, user_id: int | None, payload: dict[str, Any]) -> list[str]:
    destinations = []
    if live_target(kind=kind, user_id=user_id) is not None:
        destinations.append("live")
    if email_template(kind=kind, user_id=user_id, payload=payload) is not None:
        destinations.append("email")
    return destinations

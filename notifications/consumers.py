"""``/ws/trading``: live prices, trades, notifications, announcements, activity.

Protocol . Client → server:
  {"type": "authenticate", "token": "<JWT access>"}  → {"type": "authenticated", "user_id"}
                                                      or {"type": "error"} and a close
  {"type": "ping"}                                    → {"type": "pong"}
Server → client: {"type": "price_update" | "trade_update" | "withdrawal_update" |
                 "deposit_update" | "notification" |
"announcement" | "activity", "event_id": n, "data": {...}}; errors are
{"type": "error", "code": "...", "message": "..."}.

Anyone connected gets the public events; a socket authenticated by token or by
the site's session cookie also gets its user's trade updates and notifications.
"""

import asyncio
import json
import time

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from dtexchange.metrics import WS_CONNECTIONS
from dtexchange.request_id import request_id_from_scope
from notifications import fanout
from notifications.routing import session_fingerprint, user_group

log = structlog.get_logger(__name__)


CLOSE_AUTH_FAILED = 4001
CLOSE_SESSION_ENDED = 4003
CLOSE_RATE_LIMITED = 4008
# Group message types (= handler names) that never touch the database.
FANOUT_TYPES = frozenset(
    {
        "price_update",
        "trade_update",
        "withdrawal_update",
        "deposit_update",
        "notification",
        "announcement",
        "activity",
        "session_ended",
    }
)
# Set by dtexchange.websocket_gate: False for a socket without Origin, whose
# cookies were dropped (it authenticates by JWT only).
COOKIE_AUTH_KEY = "dtx_cookie_auth"


@database_sync_to_async
def _active_user_id(user_id) -> int | None:
    # A locked account (unusable password) has no live access either.
    return (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True)
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .values_list("pk", flat=True)
        .first()
    )


class TokenBucket:
    """Per-connection rate limit: ``burst`` messages at once, ``rate`` per second after."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class TradingConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        # Each socket runs in its own task, so its context (and so its log
        # lines' request id) is its own.
        structlog.contextvars.clear_contextvars()
        # The handshake's id, by the same rule as HTTP requests': every log
        # line of this socket carries it.
        structlog.contextvars.bind_contextvars(
            request_id=request_id_from_scope(scope), path=scope.get("path", "")
        )
        try:
            return await super().__call__(scope, receive, send)
        finally:
            if getattr(self, "counted", False):
                self.counted = False
                WS_CONNECTIONS.dec()
            # Whatever ended this socket's application (a disconnect, an
            # exception, Daphne cancelling it): the public fan-out forgets it.
            fanout.unregister(self)

    async def connect(self) -> None:
        self.user_id: int | None = None
        self.groups_joined: set[str] = set()
        self.closing = False
        self.timers: list[asyncio.Task] = []
        self.bucket = TokenBucket(
            rate=settings.WS_RATE_LIMIT_PER_SECOND, burst=settings.WS_RATE_LIMIT_BURST
        )
        self.throttled = 0
        self.via: str | None = None
        self.session_id = ""
        await self.accept()
        self.counted = True
        WS_CONNECTIONS.inc()
        log.info("ws.connected")
        # Public events come from the process's fan-out hub (one subscription
        # per process, one write loop), not through this consumer's channel.
        await fanout.register(self)
        user = self.scope.get("user")
        if (
            self.scope.get(COOKIE_AUTH_KEY)
            and user is not None
            and user.is_authenticated
            and user.is_active
        ):
            session = self.scope.get("session")
            self.session_id = session_fingerprint(getattr(session, "session_key", None))
            await self._become(user.pk, via="session")

    async def disconnect(self, code) -> None:
        log.info("ws.closed", code=code, user_id=getattr(self, "user_id", None))
        fanout.unregister(self)
        for timer in getattr(self, "timers", []):
            timer.cancel()
        for group in list(getattr(self, "groups_joined", ())):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = set()

    # --- incoming -----------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if self.closing:
            return
        if not self.bucket.take():
            self.throttled += 1
            if self.throttled > settings.WS_RATE_LIMIT_BURST:
                self.closing = True
                await self.close(code=CLOSE_RATE_LIMITED)
                return
            await self._error("rate_limited", "Too many messages; slow down.")
            return
        if text_data is None:
            await self._error("invalid_message", "Send JSON text frames.")
            return
        # Daphne refuses larger frames before buffering them (its
        # --websocket-max-* options); this is the same limit, counted again.
        if len(text_data.encode()) > settings.WS_MAX_MESSAGE_BYTES:
            await self._error(
                "message_too_large",
                f"Messages are limited to {settings.WS_MAX_MESSAGE_BYTES} bytes.",
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("invalid_json", "The message is not valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "authenticate":
            await self._authenticate(content.get("token"))
        elif not isinstance(kind, str):
            await self._error("invalid_message", 'Messages are objects with a "type".')
        else:
            await self._error("unknown_type", f"Unknown message type {kind[:40]!r}.")

    async def _authenticate(self, token) -> None:
        if not isinstance(token, str) or not token:
            await self._reject("invalid_token", "A JWT access token is required.")
            return
        try:
            access = AccessToken(token)
        except ExpiredTokenError:
            await self._reject("token_expired", "The token has expired; refresh it.")
            return
        except TokenError:
            await self._reject("invalid_token", "The token is not valid.")
            return
        user_id = await _active_user_id(access.get(jwt_settings.USER_ID_CLAIM))
        if user_id is None:
            await self._reject("invalid_token", "The token's user is not active.")
            return
        await self._become(user_id, via="token", expires_at=access.get("exp"))

    # --- outgoing (group messages; the JSON was encoded once by the dispatcher)
    async def dispatch(self, message) -> None:
        # Channels runs close_old_connections() through sync_to_async (one
        # shared thread) before EVERY handler: for a price update fanned out to
        # 2,000 sockets that is 2,000 serialized thread hops, the bulk of the
        # fan-out time in the profile (benchmarks/README.md). These handlers
        # never touch the database, so they skip it; everything else does not.
        if message.get("type") in FANOUT_TYPES:
            await getattr(self, message["type"])(message)
            return
        await super().dispatch(message)

    # Public events normally reach the socket through notifications.fanout; a
    # message sent to this consumer's own channel is still delivered.
    async def price_update(self, event) -> None:
        await self.send(text_data=event["text"])

    async def announcement(self, event) -> None:
        await self.send(text_data=event["text"])

    async def activity(self, event) -> None:
        await self.send(text_data=event["text"])

    async def trade_update(self, event) -> None:
        await self._send_own(event)

    async def withdrawal_update(self, event) -> None:
        await self._send_own(event)

    async def deposit_update(self, event) -> None:
        await self._send_own(event)

    async def notification(self, event) -> None:
        await self._send_own(event)

    async def session_ended(self, event) -> None:
        """A session of this user ended: a socket that the ended session's
        cookie authenticated closes. When every sign-in of the user ended
        (``all``: a password change, "this wasn't me"), every socket of the
        user closes, also a JWT-authenticated one: its refresh token is
        revoked, and it must not keep the user's private events until its
        access token expires."""
        if self.user_id is None or event.get("user_id") != self.user_id:
            return
        data = json.loads(event["text"]).get("data") or {}
        if data.get("all") or (self.via == "session" and data.get("session") == self.session_id):
            self.closing = True
            await self.send_json({"type": "session_ended"})
            await self._leave(user_group(self.user_id))
            self.user_id = None
            await self.close(code=CLOSE_SESSION_ENDED)

    async def _send_own(self, event) -> None:
        # The group already limits these to the owner; checking again means a
        # socket that switched users can never see the previous one's events.
        if self.user_id is not None and event.get("user_id") == self.user_id:
            await self.send(text_data=event["text"])

    # --- helpers --------------------------------------------------------------
    async def _become(self, user_id: int, *, via: str, expires_at: int | None = None) -> None:
        if self.user_id is not None and self.user_id != user_id:
            await self._leave(user_group(self.user_id))
        self.user_id = user_id
        self.via = via
        log.info("ws.authenticated", user_id=user_id, via=via)
        await self._join(user_group(user_id))
        if expires_at:
            self.timers.append(asyncio.create_task(self._expire_at(user_id, expires_at)))
        await self.send_json({"type": "authenticated", "user_id": user_id, "via": via})

    async def _expire_at(self, user_id: int, expires_at: int) -> None:
        # A token authenticates the socket only while it is valid: afterwards the
        # user's private events stop until the client authenticates again.
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        if self.user_id == user_id:
            await self._leave(user_group(user_id))
            self.user_id = None
            await self._error("token_expired", "The token has expired; authenticate again.")

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def _leave(self, group: str) -> None:
        await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.discard(group)

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def _reject(self, code: str, message: str) -> None:
        """Tell the client why, then close after a short grace period so the
        error frame reaches it before the close frame."""
        await self._error(code, message)
        self.closing = True
        if self.user_id is not None:
            await self._leave(user_group(self.user_id))
            self.user_id = None
        self.timers.append(asyncio.create_task(self._close_later()))

    async def _close_later(self) -> None:
        await asyncio.sleep(settings.WS_AUTH_GRACE_SECONDS)
        await self.close(code=CLOSE_AUTH_FAILED)

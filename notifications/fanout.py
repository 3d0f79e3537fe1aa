"""Process-local fan-out of the public events (prices, announcements, activity).

Through the channel layer, every socket of a process used to receive each
public event on its own: the layer put the message in each consumer's queue,
each consumer task woke up, decoded it and sent it (about 150 µs per socket
per message, one core; 2,000 sockets ≈ 300 ms per price update). Here one
*hub* per process (per event loop) does that once: it owns the process's
single subscription to the ``public`` group (one channel from
``new_channel()``) and, for each public event, writes the text the
dispatcher already encoded to every registered socket in one loop.

Consumers register after accepting and unregister on disconnect and, by
``TradingConsumer.__call__``'s ``finally``, on any other exit (an exception,
Daphne cancelling the application), so the registry cannot outlive its
sockets. Sockets are never in the ``public`` group themselves, so each
public event reaches a socket exactly once. Per-user events (``user.<id>``)
keep the per-consumer channel-layer path.

How a socket is written:

* Daphne (production and ``make run``): the hub writes an autobahn prepared
  message straight to the socket's protocol — the frame is built once per
  event, not once per socket — through ``notifications.daphne_adapter``, the
  one module that knows Daphne's, autobahn's and Twisted's insides.
  ``ServerSendMiddleware`` (outermost in dtexchange/asgi.py) keeps the
  server's own ``send`` callable in the scope, from which the adapter finds
  the protocol. This is what Daphne's ``handle_reply`` would do for a
  ``websocket.send``, minus per-message framing: the hub runs on Daphne's
  own event loop (Twisted's asyncio reactor runs on it) in the same thread,
  makes Daphne's own "connection gone" check plus autobahn's "open" check,
  and never blocks: a slow client's bytes wait in its own buffer.
* Any other ASGI server, and channels' ``WebsocketCommunicator``: the ASGI
  ``send`` callable, awaited with a timeout; a send that fails or times out
  drops that socket from the hub and closes it, and the loop goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from channels.layers import get_channel_layer

from notifications import daphne_adapter
from notifications.routing import PUBLIC_GROUP

logger = logging.getLogger(__name__)

# Scope key under which ServerSendMiddleware keeps the server's send callable.
SERVER_SEND = "dtx.server_send"
# Message types the hub fans out; others on its channel are ignored.
PUBLIC_TYPES = frozenset({"price_update", "announcement", "activity"})
# The in-memory and core Redis layers forget group members after a day
# (group_expiry): the hub, which lives as long as the process, re-joins.
REJOIN_SECONDS = 3600.0
# Fallback path only: how long one socket's send may take before it is dropped.
ASGI_SEND_TIMEOUT_SECONDS = 2.0
CLOSE_SEND_FAILED = 1011


class ServerSendMiddleware:
    """Outermost middleware of the WebSocket stack: keeps the server's own
    ``send`` (before any middleware wraps it) in the scope for the hub."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        return await self.app({**scope, SERVER_SEND: send}, receive, send)


class Hub:
    """The public-group subscription and socket registry of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.direct: dict[Any, daphne_adapter.Sink] = {}
        self.asgi: dict[Any, Any] = {}  # consumer -> its server's ASGI send
        self._starting: asyncio.Future | None = None
        self._tasks: list[asyncio.Task] = []

    def __len__(self) -> int:
        return len(self.direct) + len(self.asgi)

    # --- lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe once; concurrent callers wait for the same subscription.
        A failed start (channel layer down) is retried by the next caller."""
        if self._starting is None or (
            self._starting.done()
            and (self._starting.cancelled() or self._starting.exception() is not None)
        ):
            self._starting = self.loop.create_task(self._subscribe())
        # shield: a connect cancelled mid-way must not cancel everyone's start.
        await asyncio.shield(self._starting)

    async def _subscribe(self) -> None:
        channel = await self.layer.new_channel(prefix="fanout.")
        await self.layer.group_add(PUBLIC_GROUP, channel)
        self.channel = channel
        self._tasks = [
            self.loop.create_task(self._receive_forever(), name="public-fanout"),
            self.loop.create_task(self._rejoin_forever(), name="public-fanout-rejoin"),
        ]

    async def _receive_forever(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken layer connection: the layer reconnects
                logger.warning("public fan-out: receive failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            try:
                await self.broadcast(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad event stop the hub
                logger.exception("public fan-out: broadcast failed")

    async def _rejoin_forever(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await self.layer.group_add(PUBLIC_GROUP, self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("public fan-out: re-joining the group failed", exc_info=True)

    # --- registry -----------------------------------------------------------------
    def add(self, consumer, server_send) -> None:
        sink = daphne_adapter.target(server_send)
        if sink is not None:
            self.direct[consumer] = sink
        else:
            self.asgi[consumer] = server_send or consumer.base_send

    def remove(self, consumer) -> None:
        self.direct.pop(consumer, None)
        self.asgi.pop(consumer, None)

    # --- fan-out ------------------------------------------------------------------
    async def broadcast(self, message: dict) -> int:
        """Write one public event to every registered socket; returns how many."""
        if not isinstance(message, dict) or message.get("type") not in PUBLIC_TYPES:
            return 0
        text = message.get("text")
        if not isinstance(text, str):
            return 0
        started = time.perf_counter()
        sent = self._write_direct(text) if self.direct else 0
        if self.asgi:
            sent += await self._write_asgi(text)
        logger.debug(
            "public fan-out: %s to %d sockets in %.1f ms",
            message["type"],
            sent,
            (time.perf_counter() - started) * 1000,
        )
        return sent

    def _write_direct(self, text: str) -> int:
        # No await in this loop: registrations made meanwhile wait for the next
        # event, and the dict cannot change under the iteration — except by our
        # own removals, hence the list of the gone.
        payload = text.encode()
        frames: dict[int, Any] = {}  # one frame per autobahn factory (one per server)
        gone, sent = [], 0
        for consumer, sink in self.direct.items():
            try:
                state = daphne_adapter.state(sink)
                if state != "open":
                    if state == "gone":
                        gone.append(consumer)
                    continue
                daphne_adapter.write_frame(sink, daphne_adapter.prepare(sink, payload, frames))
                sent += 1
            except Exception:
                logger.warning("public fan-out: write failed; closing the socket", exc_info=True)
                gone.append(consumer)
                with contextlib.suppress(Exception):
                    daphne_adapter.close(sink, CLOSE_SEND_FAILED)
        for consumer in gone:
            self.direct.pop(consumer, None)
        return sent

    async def _write_asgi(self, text: str) -> int:
        message = {"type": "websocket.send", "text": text}
        sent = 0
        # A snapshot: the awaits below let sockets come and go.
        for consumer, send in list(self.asgi.items()):
            try:
                async with asyncio.timeout(ASGI_SEND_TIMEOUT_SECONDS):
                    await send(message)
                sent += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("public fan-out: send failed; closing the socket", exc_info=True)
                self.asgi.pop(consumer, None)
                self.loop.create_task(_close_quietly(consumer))
        return sent

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(PUBLIC_GROUP, self.channel)


async def _close_quietly(consumer) -> None:
    with contextlib.suppress(Exception):
        await consumer.close(code=CLOSE_SEND_FAILED)


_hub: Hub | None = None


def current_hub() -> Hub | None:
    """The hub of the running event loop, if one was started there."""
    hub = _hub
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return hub if hub is not None and hub.loop is loop else None


async def register(consumer) -> None:
    """Fan public events out to this (accepted) consumer's socket from now on."""
    global _hub
    loop = asyncio.get_running_loop()
    hub = _hub
    # One hub per event loop: tests run each scenario on a fresh loop, and the
    # channel layer keeps its connections per loop too.
    if hub is None or hub.loop is not loop:
        hub = _hub = Hub(loop)
    await hub.start()
    hub.add(consumer, consumer.scope.get(SERVER_SEND))


def unregister(consumer) -> None:
    """Forget a consumer (idempotent; safe when it never registered)."""
    hub = _hub
    if hub is not None:
        hub.remove(consumer)

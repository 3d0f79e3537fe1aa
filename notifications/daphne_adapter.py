"""The one place that knows how Daphne, autobahn and Twisted work inside.

The public fan-out (``notifications.fanout``) writes one event to thousands
of sockets. Through the ASGI ``send`` callable each socket costs its own
framing and a Twisted write that only buffers, so a price update to 2,000
sockets took hundreds of milliseconds. Nothing public in Daphne is faster,
so this module — and only this module — uses what the installed versions
(pinned in requirements.txt: daphne, autobahn, Twisted) have inside:

* Daphne's server ``send`` is ``functools.partial(Server.handle_reply,
  protocol)``, and ``Server.connections`` maps each live protocol to its
  details (``"disconnected"`` once it is gone): ``target`` recognises the
  socket's protocol from the send callable and makes the same "gone" check
  ``handle_reply`` makes.
* autobahn: ``factory.prepareMessage`` frames a message once for every
  socket of a factory, ``protocol.sendPreparedMessage`` sends it (both
  documented), ``protocol.state`` / ``STATE_OPEN`` / ``STATE_CONNECTING``;
  and two internals: ``send_queue`` (frames autobahn still holds) and
  ``_perMessageCompress`` (a negotiated compression, which the prepared
  frame's ``payloadHybi`` does not cover).
* Twisted's TCP transport: ``write`` only buffers and waits for the
  reactor, so ``write_frame`` hands the frame to the kernel at once with the
  transport's own ``writeSomeData`` (one non-blocking ``send``) when nothing
  is waiting in ``dataBuffer`` / ``_tempDataBuffer``; what the kernel does not
  take goes through ``write`` behind it, so bytes stay in order and Twisted
  still notices a lost connection.

``check(protocol)`` verifies all of that on a real socket the first time the
hub sees one; if an upgrade changed any of it, the hub logs why and sends
through autobahn's documented ``sendPreparedMessage`` only (slower, still
correct). tests/notifications/test_daphne_adapter.py drives real clients
through the installed Daphne and fails when the check does not pass.
"""

from __future__ import annotations

import functools
import logging
import sys
from importlib.metadata import version
from typing import Any

logger = logging.getLogger(__name__)

# What the adapter needs, by object: checked on the first live socket.
PROTOCOL_NEEDS = (
    "state",
    "STATE_OPEN",
    "STATE_CONNECTING",
    "factory",
    "transport",
    "send_queue",
    "_perMessageCompress",
    "sendPreparedMessage",
    "sendClose",
)
TRANSPORT_NEEDS = (
    "dataBuffer",
    "_tempDataBuffer",
    "connected",
    "disconnecting",
    "writeSomeData",
    "write",
)
FRAME_NEEDS = ("payloadHybi",)

_TCP_SERVER: type | None = None  # twisted.internet.tcp.Server, once Daphne is seen
# None: not checked yet; "": the direct path fits; else why it does not.
_misfit: str | None = None


def versions() -> str:
    return ", ".join(f"{name} {version(name)}" for name in ("daphne", "autobahn", "Twisted"))


class Sink:
    """A socket the hub writes to directly: Daphne's registry and the protocol."""

    __slots__ = ("connections", "protocol")

    def __init__(self, server, protocol) -> None:
        self.connections = server.connections
        self.protocol = protocol


def target(send) -> Sink | None:
    """The Daphne socket behind a server ``send`` callable, or None when it is
    not Daphne's (then the hub uses the ASGI send)."""
    global _TCP_SERVER
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    # Only look where Daphne is running: importing daphne.server installs
    # Twisted's asyncio reactor, a side effect no other process should get.
    server_module = sys.modules.get("daphne.server")
    protocol_module = sys.modules.get("daphne.ws_protocol")
    if server_module is None or protocol_module is None:
        return None
    server = getattr(send.func, "__self__", None)
    protocol = send.args[0]
    if not (
        isinstance(server, server_module.Server)
        and getattr(send.func, "__func__", None) is server_module.Server.handle_reply
        and isinstance(protocol, protocol_module.WebSocketProtocol)
        and isinstance(getattr(server, "connections", None), dict)
    ):
        return None
    if _TCP_SERVER is None:
        from twisted.internet.tcp import Server as TCPServer

        _TCP_SERVER = TCPServer
    return Sink(server, protocol)


def check(protocol) -> str:
    """Why the direct write does not fit this (live) protocol, or "" if it does."""
    missing = [f"protocol.{name}" for name in PROTOCOL_NEEDS if not hasattr(protocol, name)]
    transport = getattr(protocol, "transport", None)
    if _TCP_SERVER is None or type(transport) is not _TCP_SERVER:
        missing.append(f"a twisted.internet.tcp.Server transport (got {type(transport).__name__})")
    else:
        missing += [f"transport.{name}" for name in TRANSPORT_NEEDS if not hasattr(transport, name)]
    factory = getattr(protocol, "factory", None)
    if not callable(getattr(factory, "prepareMessage", None)):
        missing.append("factory.prepareMessage")
    else:
        frame = factory.prepareMessage(b"{}")
        missing += [f"prepared frame.{name}" for name in FRAME_NEEDS if not hasattr(frame, name)]
    return ", ".join(missing)


def _fits(protocol) -> bool:
    global _misfit
    if _misfit is None:
        _misfit = check(protocol)
        if _misfit:
            logger.warning(
                "public fan-out: the Daphne adapter does not fit %s (missing: %s); "
                "sending through autobahn's sendPreparedMessage only",
                versions(),
                _misfit,
            )
        else:
            logger.info("public fan-out: Daphne adapter active (%s)", versions())
    return not _misfit


def state(sink: Sink) -> str:
    """ "open", "connecting" (not yet writable) or "gone"."""
    protocol = sink.protocol
    current = protocol.state
    if current != protocol.STATE_OPEN:
        return "connecting" if current == protocol.STATE_CONNECTING else "gone"
    details = sink.connections.get(protocol)
    if details is None or details.get("disconnected"):
        return "gone"  # Daphne's own check in handle_reply
    return "open"


def prepare(sink: Sink, payload: bytes, frames: dict[int, Any]) -> Any:
    """The frame of ``payload`` for this socket's factory, built once per
    factory (one per server) and kept in ``frames``."""
    factory = sink.protocol.factory
    frame = frames.get(id(factory))
    if frame is None:
        frame = frames[id(factory)] = factory.prepareMessage(payload)
    return frame


def write_frame(sink: Sink, frame) -> None:
    """``protocol.sendPreparedMessage(frame)``, handed to the socket now."""
    protocol = sink.protocol
    transport = protocol.transport
    if (
        not _fits(protocol)
        or type(transport) is not _TCP_SERVER
        or protocol.send_queue
        or protocol._perMessageCompress is not None
        or transport.dataBuffer
        or transport._tempDataBuffer
        or not transport.connected
        or transport.disconnecting
    ):
        protocol.sendPreparedMessage(frame)
        return
    data = frame.payloadHybi
    written = transport.writeSomeData(data)
    if isinstance(written, BaseException):
        written = 0
    if written < len(data):
        transport.write(data[written:])


def close(sink: Sink, code: int) -> None:
    sink.protocol.sendClose(code=code)

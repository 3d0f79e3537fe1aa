"""The per-process public fan-out (notifications/fanout.py).

On a real Daphne (Redis pub/sub layer, `websockets` clients): public events
reach every socket exactly once, user events only their owner, and sockets
that vanish, or stop reading, do not hold up the others. Through channels'
WebsocketCommunicator (the hub's ASGI-send path, observable in-process): the
registry forgets sockets however they end, and a socket whose send fails is
dropped and closed while the others keep receiving."""

import asyncio
import json
import socket

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from dtexchange.asgi import application
from notifications import fanout
from notifications.services import outbox_emit
from tests.notifications.conftest import access_token, run, trade_payload
from tests.notifications.daphne_server import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://127.0.0.1"
ORIGIN_HEADER = [(b"origin", ORIGIN.encode())]
PRICE = {"crypto": "BTC", "fiat": "USD", "price": "97000.00", "at": "2026-11-25T10:00:00+00:00"}


def emit(**kwargs):
    with transaction.atomic():
        return outbox_emit(**kwargs).pk


async def drain(ws, *, quiet: float = 1.0) -> list[dict]:
    """Every message a `websockets` client gets until it is quiet for ``quiet`` s."""
    got = []
    while True:
        try:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=quiet)))
        except TimeoutError:
            return got


async def authenticate(ws, user) -> None:
    await ws.send(json.dumps({"type": "authenticate", "token": access_token(user)}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
    assert reply["type"] == "authenticated", reply


@pytest.fixture
def server(transactional_db):
    with daphne_server() as info:
        yield info


def test_public_events_reach_every_socket_once_and_user_events_their_owner_only(server, make_user):
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")

    async def scenario():
        sockets = [await websockets.connect(server["url"], origin=ORIGIN) for _ in range(6)]
        a1, a2, b = sockets[:3]  # the other three stay anonymous
        for ws, user in ((a1, alice), (a2, alice), (b, bob)):
            await authenticate(ws, user)
        public = [
            await sync_to_async(emit)(kind="price.updated", payload=PRICE),
            await sync_to_async(emit)(
                kind="announcement", payload={"title": "Hi", "body": "Maintenance at 18:00."}
            ),
            await sync_to_async(emit)(
                kind="activity", payload={"crypto_currency": "BTC", "trade_type": "buy"}
            ),
        ]
        trade = await sync_to_async(emit)(
            kind="trade.updated", user_id=alice.pk, payload=trade_payload()
        )
        received = [await drain(ws) for ws in sockets]
        for ws in sockets:
            await ws.close()
        return public, trade, received

    public, trade, received = run(scenario)
    kinds = {"price_update", "announcement", "activity"}
    for index, messages in enumerate(received):
        ids = [m["event_id"] for m in messages if m["type"] in kinds]
        assert sorted(ids) == public, f"socket {index}: {messages}"  # each once, none twice
    for index in (0, 1):  # alice's two sockets
        updates = [m["event_id"] for m in received[index] if m["type"] == "trade_update"]
        assert updates == [trade]
    for messages in received[2:]:  # bob and the anonymous sockets
        assert not [m for m in messages if m["type"] == "trade_update"]


def test_vanished_and_stalled_sockets_do_not_hold_up_the_others(server):
    """Some clients drop their TCP connection without a close handshake, one
    stops reading (its kernel buffers fill, so the server's writes to it come
    back short or would block); the others get every event at once, and the
    stalled one gets all of them, whole and in order, once it reads again."""
    body = "x" * 200_000  # 40 of these (8 MB) overflow the socket buffers (4 MB at most)

    async def scenario():
        url = server["url"]
        healthy = [await websockets.connect(url, origin=ORIGIN) for _ in range(3)]
        vanishing = [await websockets.connect(url, origin=ORIGIN) for _ in range(3)]
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the handshake
        raw.connect(("127.0.0.1", server["port"]))
        stalled = await websockets.connect(url, origin=ORIGIN, sock=raw, max_size=None)
        for ws in (*healthy, *vanishing, stalled):  # all registered before the events
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), timeout=5)) == {"type": "pong"}
        stalled.transport.pause_reading()
        for ws in vanishing:
            ws.transport.abort()  # a reset, no close frame
        ids = []
        for n in range(40):
            ids.append(
                await sync_to_async(emit)(
                    kind="announcement", payload={"title": f"#{n}", "body": body}
                )
            )
        healthy_got = [await drain(ws, quiet=2.0) for ws in healthy]
        stalled.transport.resume_reading()
        stalled_got = await drain(stalled, quiet=2.0)
        for ws in (*healthy, stalled):
            await ws.close()
        return ids, healthy_got, stalled_got

    ids, healthy_got, stalled_got = run(scenario)
    for messages in healthy_got:
        assert [m["event_id"] for m in messages] == ids
    assert [m["event_id"] for m in stalled_got] == ids
    assert [m["data"]["title"] for m in stalled_got] == [f"#{n}" for n in range(40)]
    assert all(m["data"]["body"] == body for m in stalled_got)


# --- in process: the hub's registry and its ASGI-send path ------------------------


async def connect(app=application):
    communicator = WebsocketCommunicator(app, "/ws/trading", headers=ORIGIN_HEADER)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


class FailingSend:
    """An ASGI server whose socket breaks: its send raises on public events."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def broken(message):
            if message["type"] == "websocket.send" and "price_update" in message.get("text", ""):
                raise ConnectionResetError("connection reset by peer")
            await send(message)

        return await self.app(scope, receive, broken)


def test_registry_forgets_sockets_however_they_end():
    async def scenario():
        closed_cleanly, cancelled, kept = await connect(), await connect(), await connect()
        hub = fanout.current_hub()
        assert len(hub) == 3
        await closed_cleanly.disconnect()
        assert len(hub) == 2
        # Daphne cancels an application that outlives its socket: no disconnect
        # handler runs, the consumer's own finally does.
        cancelled.future.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled.future
        assert len(hub) == 1
        await sync_to_async(emit)(kind="price.updated", payload=PRICE)
        assert (await kept.receive_json_from(timeout=5))["type"] == "price_update"
        assert await kept.receive_nothing(timeout=0.5)  # once, not twice
        await kept.disconnect()
        assert len(hub) == 0

    run(scenario)


def test_a_socket_whose_send_fails_is_closed_and_the_others_still_receive():
    async def scenario():
        first = await connect()
        broken = await connect(FailingSend(application))
        last = await connect()
        hub = fanout.current_hub()
        assert len(hub) == 3
        for n in range(2):
            await sync_to_async(emit)(kind="price.updated", payload={**PRICE, "price": str(n)})
            for ws in (first, last):
                message = await ws.receive_json_from(timeout=5)
                assert (message["type"], message["data"]["price"]) == ("price_update", str(n))
        assert await broken.receive_output(timeout=5) == {"type": "websocket.close", "code": 1011}
        assert len(hub) == 2
        for ws in (first, last):
            await ws.disconnect()

    run(scenario)

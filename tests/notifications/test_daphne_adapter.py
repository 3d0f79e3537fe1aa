"""notifications/daphne_adapter.py against the installed Daphne, autobahn and
Twisted: real `websockets` clients on a real Daphne get every public event,
and the adapter's check of what it relies on inside those libraries passed
on their live sockets. An upgrade that changes any of it fails here."""

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import transaction

from notifications.services import outbox_emit
from tests.notifications.conftest import run
from tests.notifications.daphne_server import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://127.0.0.1"


def emit_price(n: int) -> int:
    payload = {"crypto": "BTC", "fiat": "USD", "price": f"9700{n}.00", "at": "2026-11-25T10:00:00Z"}
    with transaction.atomic():
        return outbox_emit(kind="price.updated", payload=payload).pk


def test_the_installed_daphne_fits_the_adapter_and_every_client_gets_each_event(tmp_path):
    log = tmp_path / "daphne.log"
    with daphne_server(
        extra_env={"LOG_LEVEL": "INFO", "LOG_JSON": "false"}, log_path=log
    ) as server:

        async def scenario():
            sockets = [await websockets.connect(server["url"], origin=ORIGIN) for _ in range(5)]
            for ws in sockets:  # the hub has registered every socket once it answers
                await ws.send(json.dumps({"type": "ping"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), timeout=10))["type"] == "pong"
            sent = [await sync_to_async(emit_price)(n) for n in range(3)]
            received = []
            for ws in sockets:
                got = []
                while len(got) < len(sent):
                    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                    if message["type"] == "price_update":
                        got.append(message["event_id"])
                received.append(got)
                await ws.close()
            return sent, received

        sent, received = run(scenario)
    assert received == [sent] * 5  # each event once, in order, on every socket
    output = log.read_text()
    assert "public fan-out: Daphne adapter active" in output, output[-3000:]
    assert "does not fit" not in output

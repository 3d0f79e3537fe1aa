"""`make run`'s embedded default carries live updates: Daphne and the Celery
worker are separate processes and the in-memory channel layer cannot cross
them, so Daphne drains the outbox itself (DESIGN 6). Started as a new user
would get it: scripts/run_all.py, no variables, a fresh var/ folder."""

import asyncio
import json

import websockets

from tests.embedded import embedded_run, wait_until_serving


def test_make_run_pushes_price_updates_to_an_anonymous_socket(tmp_path):
    with embedded_run(tmp_path, extra_env={"PRICE_REFRESH_SECONDS": "2"}) as run:
        wait_until_serving(run)
        port = run.port

        async def two_price_updates():
            url = f"ws://127.0.0.1:{port}/ws/trading"
            async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
                await ws.send(json.dumps({"type": "ping"}))
                got = []
                while len(got) < 2:
                    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
                    if message["type"] == "price_update":
                        got.append(message)
                return got

        updates = asyncio.run(two_price_updates())
        assert {"crypto", "fiat", "price", "at"} <= set(updates[0]["data"])
        assert updates[1]["event_id"] > updates[0]["event_id"]

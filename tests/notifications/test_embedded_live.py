"""`make run`'s embedded default carries live updates: Daphne and the Celery
worker are separate processes and the in-memory channel layer cannot cross
them, so Daphne drains the outbox itself (DESIGN 6). Started as a new user
would get it: scripts/run_all.py, no variables, a fresh var/ folder."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import websockets

from tests.notifications.daphne_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_pushes_price_updates_to_an_anonymous_socket(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "CELERY_BROKER_URL"}
        and not k.startswith(("DJANGO_", "PYTEST_"))
    }
    port = free_port()
    env.update(
        DTX_VAR_DIR=str(tmp_path / "var"),
        HOST="127.0.0.1",
        PORT=str(port),
        RELWORX_BASE_URL=f"http://127.0.0.1:{free_port()}/api",
        PRICE_REFRESH_SECONDS="2",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    log = (tmp_path / "run_all.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "scripts/run_all.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "run_all.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the web server did not start"
            time.sleep(0.25)

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
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

"""`make run` as a new user gets it: scripts/run_all.py with no variables
starts its own PostgreSQL and Valkey from the wheels, migrates, loads the demo
data and starts Daphne, the Celery worker and beat and the Relworx sandbox.
Then: the site, the API, email through the worker, a mobile-money buy through
the sandbox whose trade_update arrives on a socket, `manage.py` from another
terminal, and Ctrl-C leaving no process behind."""

import asyncio
import json
import re
import signal
import time
from email import message_from_bytes
from email import policy as email_policy

import httpx
import pytest
import websockets

from tests.embedded import ROOT, alive, descendants, embedded_run, wait_for, wait_until_serving

DEMO = {"email": "demo@dtexchange.ug", "password": "demo-pass-2026"}


def _buy_when_priced(http: httpx.Client, headers: dict) -> dict:
    """The first price tick comes from beat a few seconds after start-up."""
    body = {
        "crypto_currency": "BTC",
        "fiat_currency": "UGX",
        "amount": "50000",
        "payment_method": "mobile_money",
        "payment_details": {"phone_number": "+256770000001"},
    }
    deadline = time.monotonic() + 90
    while True:
        response = http.post("/api/trading/buy", json=body, headers=headers)
        if response.status_code == 201 or time.monotonic() > deadline:
            assert response.status_code == 201, response.text
            return response.json()
        assert response.status_code in (409, 503), response.text  # no fresh price yet
        time.sleep(1)


async def _trade_update_for(port: int, token: str, start_buy) -> tuple[dict, list[str]]:
    """Authenticate a socket, then buy; return the trade's completed
    trade_update and the types of everything the socket got."""
    seen = []
    url = f"ws://127.0.0.1:{port}/ws/trading"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
        await ws.send(json.dumps({"type": "authenticate", "token": token}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
            seen.append(message["type"])
            if message["type"] == "authenticated":
                break
        trade = await asyncio.to_thread(start_buy)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
            seen.append(message["type"])
            data = message.get("data", {})
            if (
                message["type"] == "trade_update"
                and data.get("trade_id", data.get("id")) == trade["id"]
                and data.get("status") == "completed"
            ):
                return message, seen
    raise AssertionError(f"no completed trade_update; the socket got {seen}")


@pytest.mark.timeout(600)
def test_make_run_serves_everything_on_its_own_servers_and_stops_them_all():
    top_level_before = {p.name for p in ROOT.iterdir()}
    with embedded_run(PRICE_REFRESH_SECONDS="2") as run:
        wait_until_serving(run)
        state = json.loads((run.var / "servers.json").read_text())
        assert state["database_url"].startswith("postgres://postgres@127.0.0.1:")
        assert state["redis_url"].startswith("redis://127.0.0.1:")
        assert ":5432/" not in state["database_url"]
        assert ":6379/" not in state["redis_url"]
        with httpx.Client(base_url=run.base_url, timeout=30) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["failed"] == []
            home = http.get("/")
            assert home.status_code == 200
            assert "text/html" in home.headers["Content-Type"]
            docs = http.get("/api/docs/")
            assert docs.status_code == 200
            assert (
                http.get(
                    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
                ).status_code
                == 200
            )

            # Registration: the Celery worker (Redis broker) writes the email
            # as an .eml file under var/mail/.
            email = "runner@example.ug"
            response = http.post(
                "/api/auth/register", json={"email": email, "password": "Run-pass-2026"}
            )
            assert response.status_code == 202, response.text
            eml = wait_for(lambda: sorted((run.var / "mail").glob("*.eml")), 90, "the email")[0]
            message = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
            assert message["To"] == email
            code = re.search(r"\b(\d{6})\b", message.get_body(("plain",)).get_content()).group(1)
            registration = response.json()["registration"]
            sign_up = {"email": email, "code": code, "registration": registration}
            verified = http.post("/api/auth/verify-email", json=sign_up)
            assert verified.status_code == 200, verified.text
            assert verified.json()["password_reset_needed"] is False

            # The demo customer buys with mobile money through the sandbox: the
            # signed webhook completes the trade and the worker's live
            # delivery reaches the socket through Redis.
            token = http.post("/api/auth/token", json=DEMO)
            assert token.status_code == 200, token.text
            access = token.json()["access"]
            headers = {"Authorization": f"Bearer {access}"}
            update, _seen = asyncio.run(
                _trade_update_for(run.port, access, lambda: _buy_when_priced(http, headers))
            )
            assert update["data"]["status"] == "completed"
            trade_id = update["data"].get("trade_id", update["data"].get("id"))
            trade = http.get(f"/api/trading/trades/{trade_id}", headers=headers).json()
            assert trade["status"] == "completed"
            assert trade["payment_method"] == "mobile_money"

        # The README's commands in another terminal: no variable to set.
        reconcile = run.manage("reconcile_ledger")
        assert reconcile.returncode == 0, reconcile.stderr
        announce = run.manage("announce", "Maintenance at noon")
        assert announce.returncode == 0, announce.stderr

        # Ctrl-C stops every process, the servers last.
        processes = descendants(run.proc.pid)
        assert len(processes) >= 6  # postgres, valkey, daphne, worker, beat, sandbox
        run.proc.send_signal(signal.SIGINT)
        assert run.proc.wait(timeout=90) == 0, run.log()[-3000:]
        assert wait_for(lambda: not alive(processes), 30, "every child to exit")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{run.base_url}/healthz", timeout=2)
        assert not (run.var / "servers.json").exists()

        # ...after which manage.py says plainly what to do.
        later = run.manage("reconcile_ledger")
        assert later.returncode == 1
        assert "start `make run` first" in later.stderr
        assert "Traceback" not in later.stderr
    # Everything the processes wrote is under var/.
    assert {p.name for p in ROOT.iterdir()} <= top_level_before | {".pytest_cache", "var"}

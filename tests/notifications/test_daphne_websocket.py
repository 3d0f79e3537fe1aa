"""/ws/trading on a real Daphne process, Redis pub/sub channel layer on this
suite's Redis DB, and the `websockets` client a browser-like peer would use."""

import asyncio
import json
from datetime import timedelta

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import transaction

from notifications.services import outbox_emit
from tests.notifications.conftest import access_token, run, trade_payload
from tests.notifications.daphne_server import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://127.0.0.1"


@pytest.fixture
def server(transactional_db):
    with daphne_server() as info:
        yield info


def emit(**kwargs):
    with transaction.atomic():
        return outbox_emit(**kwargs)


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))


async def silent(ws, timeout=0.5) -> bool:
    try:
        message = await asyncio.wait_for(ws.recv(), timeout=timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message {message}")


def test_real_server_auth_routing_and_errors(server, make_user):
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    good_a, good_b = access_token(alice), access_token(bob)
    expired = access_token(alice, lifetime=timedelta(seconds=-1))

    async def scenario():
        url = server["url"]
        async with (
            websockets.connect(url, origin=ORIGIN) as a,
            websockets.connect(url, origin=ORIGIN) as b,
            websockets.connect(url, origin=ORIGIN) as anon,
        ):
            await a.send(json.dumps({"type": "authenticate", "token": good_a}))
            assert await recv_json(a) == {
                "type": "authenticated",
                "user_id": alice.pk,
                "via": "token",
            }
            await b.send(json.dumps({"type": "authenticate", "token": good_b}))
            assert (await recv_json(b))["user_id"] == bob.pk

            # Malformed input gets an error, and the socket lives on.
            await anon.send("{oops")
            assert (await recv_json(anon))["code"] == "invalid_json"
            await anon.send(json.dumps({"type": "ping"}))
            assert await recv_json(anon) == {"type": "pong"}

            await sync_to_async(emit)(
                kind="trade.updated", user_id=alice.pk, payload=trade_payload(reference="DTX-A1")
            )
            update = await recv_json(a)
            assert (update["type"], update["data"]["reference"]) == ("trade_update", "DTX-A1")
            assert await silent(b)
            assert await silent(anon)

            price = {
                "crypto": "SOL",
                "fiat": "UGX",
                "price": "690000",
                "change": "-1.2",
                "source": "simulated",
                "at": "2026-11-25T10:00:00+00:00",
            }
            await sync_to_async(emit)(kind="price.updated", payload=price)
            for ws in (a, b, anon):
                message = await recv_json(ws)
                assert (message["type"], message["data"]) == ("price_update", price)

        for token, code in [("garbage", "invalid_token"), (expired, "token_expired")]:
            async with websockets.connect(url, origin=ORIGIN) as ws:
                await ws.send(json.dumps({"type": "authenticate", "token": token}))
                assert (await recv_json(ws))["code"] == code
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), timeout=5)
                assert closed.value.rcvd.code == 4001

    run(scenario)


def test_trade_completed_through_the_api_reaches_its_owner_only(server):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices

    set_prices()
    fund_reserves()
    alice, bob = UserFactory(), UserFactory()
    fund_wallet(alice, "USD", "1000.00")
    api = APIClient()
    api.force_authenticate(alice)

    def buy():
        return api.post(
            "/api/trading/buy",
            {
                "crypto_currency": "BTC",
                "fiat_currency": "USD",
                "amount": "500.00",
                "payment_method": "balance",
            },
            format="json",
        )

    async def scenario():
        url = server["url"]
        async with (
            websockets.connect(url, origin=ORIGIN) as a,
            websockets.connect(url, origin=ORIGIN) as b,
        ):
            for ws, user in ((a, alice), (b, bob)):
                await ws.send(json.dumps({"type": "authenticate", "token": access_token(user)}))
                assert (await recv_json(ws))["type"] == "authenticated"
            response = await sync_to_async(buy)()
            assert response.status_code == 201, response.json()
            received = {"a": [], "b": []}
            for name, ws in (("a", a), ("b", b)):
                while True:
                    try:
                        received[name].append(await recv_json(ws, timeout=1.5))
                    except TimeoutError:
                        break
            return response.json(), received

    trade, received = run(scenario)
    a_updates = [m for m in received["a"] if m["type"] == "trade_update"]
    assert [(m["data"]["trade_id"], m["data"]["status"]) for m in a_updates] == [
        (trade["id"], "completed")
    ]
    assert a_updates[0]["data"]["crypto_amount"] == trade["crypto_amount"]
    assert not [m for m in received["b"] if m["type"] == "trade_update"]
    # Both see the anonymised public activity line of the completed trade.
    for name in ("a", "b"):
        activity = [m for m in received[name] if m["type"] == "activity"]
        assert [m["data"]["trade_type"] for m in activity] == ["buy"]
    # And the owner gets the "buy completed" email, once.
    from django.core import mail

    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "BTC" in mail.outbox[0].subject

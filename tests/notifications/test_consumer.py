"""/ws/trading through Channels' WebsocketCommunicator and the project's real
ASGI application (origin check, session middleware, Redis pub/sub layer)."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client, override_settings

from dtexchange.asgi import application
from notifications.services import outbox_emit
from tests.notifications.conftest import access_token, run, trade_payload
from tests.test_logging import json_log_lines as _json_log_lines

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1")]


async def connect(headers=()):
    communicator = WebsocketCommunicator(application, "/ws/trading", headers=[*ORIGIN, *headers])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def expect_silence(communicator, timeout=0.4):
    assert await communicator.receive_nothing(timeout=timeout)


def emit(**kwargs):
    with transaction.atomic():
        return outbox_emit(**kwargs)


def test_ping_pong_and_malformed_messages_get_errors_not_crashes():
    async def scenario():
        ws = await connect()
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from() == {"type": "pong"}
        cases = [
            ("{not json", "invalid_json"),
            ("[1, 2]", "invalid_message"),
            ('"text"', "invalid_message"),
            ('{"no": "type"}', "invalid_message"),
            ('{"type": 5}', "invalid_message"),
            ('{"type": "subscribe_everything"}', "unknown_type"),
            ("x" * 5000, "message_too_large"),
        ]
        for raw, code in cases:
            await ws.send_to(text_data=raw)
            reply = await ws.receive_json_from()
            assert reply["type"] == "error", raw
            assert reply["code"] == code, raw
        await ws.send_to(bytes_data=b"\x00\x01")
        assert (await ws.receive_json_from())["code"] == "invalid_message"
        # Still alive and answering after all that.
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from() == {"type": "pong"}
        await ws.disconnect()

    run(scenario)


@override_settings(WS_RATE_LIMIT_BURST=5, WS_RATE_LIMIT_PER_SECOND=0.1)
def test_rate_limit_per_connection_then_close():
    async def scenario():
        ws = await connect()
        for _ in range(5):
            await ws.send_json_to({"type": "ping"})
            assert await ws.receive_json_from() == {"type": "pong"}
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from())["code"] == "rate_limited"
        # A client that keeps hammering is disconnected.
        for _ in range(10):
            await ws.send_json_to({"type": "ping"})
        closed = None
        for _ in range(12):
            out = await ws.receive_output(timeout=2)
            if out["type"] == "websocket.close":
                closed = out
                break
        assert closed == {"type": "websocket.close", "code": 4008}
        # Another connection has its own budget.
        other = await connect()
        await other.send_json_to({"type": "ping"})
        assert await other.receive_json_from() == {"type": "pong"}
        await other.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda user: "not-a-jwt", "invalid_token"),
        (lambda user: access_token(user)[:-4] + "AAAA", "invalid_token"),  # bad signature
        (lambda user: access_token(user, lifetime=timedelta(seconds=-5)), "token_expired"),
        (lambda user: None, "invalid_token"),
    ],
    ids=["garbage", "bad-signature", "expired", "missing"],
)
@override_settings(WS_AUTH_GRACE_SECONDS=0.2)
def test_bad_tokens_get_an_error_then_a_close(make_user, make_token, code):
    user = make_user()
    token = make_token(user)

    async def scenario():
        ws = await connect()
        await ws.send_json_to({"type": "authenticate", "token": token})
        reply = await ws.receive_json_from()
        assert reply["type"] == "error"
        assert reply["code"] == code
        assert await ws.receive_output(timeout=2) == {"type": "websocket.close", "code": 4001}

    run(scenario)


def test_inactive_users_token_is_refused(make_user):
    user = make_user(is_active=False)

    async def scenario():
        ws = await connect()
        await ws.send_json_to({"type": "authenticate", "token": access_token(user)})
        assert (await ws.receive_json_from())["code"] == "invalid_token"
        await ws.disconnect()

    run(scenario)


def test_trade_update_reaches_its_owner_only_and_prices_reach_everyone(make_user):
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")

    async def scenario():
        a, b, anon = await connect(), await connect(), await connect()
        await a.send_json_to({"type": "authenticate", "token": access_token(alice)})
        assert await a.receive_json_from() == {
            "type": "authenticated",
            "user_id": alice.pk,
            "via": "token",
        }
        await b.send_json_to({"type": "authenticate", "token": access_token(bob)})
        assert (await b.receive_json_from())["user_id"] == bob.pk

        await sync_to_async(emit)(
            kind="trade.updated", user_id=alice.pk, payload=trade_payload(reference="DTX-ALICE1")
        )
        update = await a.receive_json_from(timeout=5)
        assert update["type"] == "trade_update"
        assert update["data"]["reference"] == "DTX-ALICE1"
        assert update["data"]["status"] == "completed"
        await expect_silence(b)
        await expect_silence(anon)

        await sync_to_async(emit)(
            kind="notification",
            user_id=bob.pk,
            payload={"title": "Hi Bob", "body": "", "level": "info"},
        )
        assert (await b.receive_json_from(timeout=5))["data"]["title"] == "Hi Bob"
        await expect_silence(a)

        price = {
            "crypto": "BTC",
            "fiat": "USD",
            "price": "97000.00",
            "change": "0.5",
            "source": "simulated",
            "at": "2026-11-25T10:00:00+00:00",
        }
        await sync_to_async(emit)(kind="price.updated", payload=price)
        for ws in (a, b, anon):
            message = await ws.receive_json_from(timeout=5)
            assert message["type"] == "price_update"
            assert message["data"] == price

        activity = {
            "crypto_currency": "BTC",
            "trade_type": "buy",
            "amount": "0.001",
            "payment_method": "mobile_money",
            "at": "2026-11-25T10:00:00+00:00",
        }
        await sync_to_async(emit)(kind="activity", payload=activity)
        for ws in (a, b, anon):
            assert (await ws.receive_json_from(timeout=5))["type"] == "activity"
        for ws in (a, b, anon):
            await ws.disconnect()

    run(scenario)


def test_session_cookie_authenticates_the_socket(make_user):
    user = make_user()
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        ws = await connect(headers=[(b"cookie", cookie)])
        assert await ws.receive_json_from() == {
            "type": "authenticated",
            "user_id": user.pk,
            "via": "session",
        }
        await sync_to_async(emit)(kind="trade.updated", user_id=user.pk, payload=trade_payload())
        assert (await ws.receive_json_from(timeout=5))["type"] == "trade_update"
        await ws.disconnect()

    run(scenario)


def test_foreign_origin_is_refused():
    async def scenario():
        ws = WebsocketCommunicator(
            application, "/ws/trading", headers=[(b"origin", b"https://evil.example")]
        )
        connected, _ = await ws.connect()
        assert not connected

    run(scenario)


json_log_lines = _json_log_lines  # the fixture, for this module


def test_each_socket_logs_with_its_own_request_id(json_log_lines):
    async def scenario():
        first = await connect(headers=[(b"x-request-id", b"req-ws-first")])
        second = await connect()
        for ws in (first, second):
            await ws.send_json_to({"type": "ping"})
            assert await ws.receive_json_from() == {"type": "pong"}
            await ws.disconnect()

    run(scenario)
    lines = [line for line in json_log_lines() if line["event"].startswith("ws.")]
    mine = [line for line in lines if line.get("request_id") == "req-ws-first"]
    assert [line["event"] for line in mine] == ["ws.connected", "ws.closed"]
    others = {line["request_id"] for line in lines} - {"req-ws-first"}
    assert len(others) == 1 and len(others.pop()) == 32
    assert all({"timestamp", "level", "logger"} <= set(line) for line in lines)


def test_a_sockets_malformed_request_id_is_replaced_as_for_http(json_log_lines):
    """One rule for HTTP and WebSocket ids (dtexchange.request_id): a header
    value that is not a short safe token is never logged."""
    bad = "x" * 65

    async def scenario():
        ws = await connect(headers=[(b"x-request-id", bad.encode())])
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from() == {"type": "pong"}
        await ws.disconnect()

    run(scenario)
    ids = {line["request_id"] for line in json_log_lines() if line["event"].startswith("ws.")}
    assert len(ids) == 1
    (replaced,) = ids
    assert replaced != bad and len(replaced) == 32

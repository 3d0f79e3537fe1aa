"""/ws/trading's gate, on a real Daphne: API clients without Origin connect
and authenticate with a JWT (their cookies are ignored); a cookie-authenticated
socket needs our own origin (cross-site WebSocket hijacking); frames above the
limit are refused by Daphne before they are buffered; a per-client-address
connection cap; a cookie-authenticated socket closes when its session ends."""

import asyncio
import contextlib
import json

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import Client

from tests.notifications.conftest import access_token, run
from tests.notifications.daphne_server import daphne_server

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = "http://127.0.0.1"


@pytest.fixture
def server(transactional_db):
    with daphne_server() as info:
        yield info


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))


async def silent(ws, timeout=0.7) -> bool:
    try:
        message = await asyncio.wait_for(ws.recv(), timeout=timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message {message}")


async def closed_with(ws, timeout=8.0) -> int | None:
    """The close code the server sent (None: it dropped the connection),
    failing on any message received before the close."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        message = await asyncio.wait_for(ws.recv(), timeout=timeout)
        raise AssertionError(f"unexpected message {message}")
    return closed.value.rcvd.code if closed.value.rcvd else None


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client, f"sessionid={client.cookies['sessionid'].value}"


def _refused(url, **kwargs):
    async def attempt():
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, **kwargs):
                pass
        return refused.value.response.status_code

    return run(attempt)


def test_an_api_client_without_origin_connects_and_authenticates_with_a_jwt(server, make_user):
    alice = make_user("alice@example.com")
    _client, cookie = _session_cookie(alice)

    async def scenario():
        # No Origin header (a phone app, a bot): accepted...
        async with websockets.connect(server["url"]) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert await recv_json(ws) == {"type": "pong"}
            await ws.send(json.dumps({"type": "authenticate", "token": access_token(alice)}))
            assert await recv_json(ws) == {
                "type": "authenticated",
                "user_id": alice.pk,
                "via": "token",
            }
        # ...but its cookie does not sign it in: a page of another site could
        # not have sent it anyway, and a non-browser must use a token.
        async with websockets.connect(server["url"], additional_headers={"Cookie": cookie}) as ws:
            assert await silent(ws)

    run(scenario)


def test_the_session_cookie_works_only_from_our_own_origin(server, make_user):
    alice = make_user("alice@example.com")
    _client, cookie = _session_cookie(alice)

    async def own_origin():
        async with websockets.connect(
            server["url"], origin=ORIGIN, additional_headers={"Cookie": cookie}
        ) as ws:
            assert await recv_json(ws) == {
                "type": "authenticated",
                "user_id": alice.pk,
                "via": "session",
            }

    run(own_origin)
    # A page on another site opening our socket with the victim's cookie:
    assert (
        _refused(
            server["url"], origin="https://evil.example", additional_headers={"Cookie": cookie}
        )
        == 403
    )
    assert _refused(server["url"], origin="null") == 403


def test_frames_above_the_limit_are_refused_by_daphne(server):
    async def scenario():
        async with websockets.connect(server["url"], origin=ORIGIN, compression=None) as ws:
            await ws.send("x" * 4000)  # within the limit: an application error only
            assert (await recv_json(ws))["code"] == "invalid_json"
            # Just above the limit: Daphne's protocol fails the connection
            # ("message too big") and drops it; the app never sees the message
            # (it would answer "message_too_large" and stay open).
            await ws.send("x" * 4097)
            assert await closed_with(ws) in (1009, None)
        async with websockets.connect(server["url"], origin=ORIGIN, compression=None) as ws:
            # 1 MiB: refused as soon as the frame header announces it; the
            # server drops the connection while the client is still sending.
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send("x" * (1024 * 1024))
            assert await closed_with(ws) in (1009, None)

    run(scenario)


def test_connections_per_client_address_are_capped():
    env = {
        # Loopback (where this test connects from) is not trusted here.
        "TRUSTED_NETWORKS": "10.255.255.0/24",
        "WS_MAX_CONNECTIONS_PER_IP": "3",
        "NUM_PROXIES": "1",
    }
    with daphne_server(extra_env=env) as server:
        url = server["url"]

        def as_client(ip):
            return {"additional_headers": {"X-Forwarded-For": f"192.0.2.77, {ip}"}}

        async def scenario():
            sockets = [await websockets.connect(url, **as_client("203.0.113.5")) for _ in range(3)]
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(url, **as_client("203.0.113.5"))
            assert refused.value.response.status_code == 403
            # Another client address is not affected; a forged left part of
            # the header does not make a new client.
            other = await websockets.connect(url, **as_client("203.0.113.6"))
            await other.close()
            # A closed socket frees its place.
            await sockets[0].close()
            await asyncio.sleep(0.3)
            again = await websockets.connect(url, **as_client("203.0.113.5"))
            for ws in (again, *sockets[1:]):
                await ws.close()

        run(scenario)


def test_sockets_close_at_logout_and_at_a_password_change(server, make_user):
    alice = make_user("alice@example.com")
    client_one, cookie_one = _session_cookie(alice)
    _client_two, cookie_two = _session_cookie(alice)

    async def connect(cookie):
        ws = await websockets.connect(
            server["url"], origin=ORIGIN, additional_headers={"Cookie": cookie}
        )
        assert (await recv_json(ws))["via"] == "session"
        return ws

    async def scenario():
        one, two = await connect(cookie_one), await connect(cookie_two)
        token_socket = await websockets.connect(server["url"])
        await token_socket.send(json.dumps({"type": "authenticate", "token": access_token(alice)}))
        assert (await recv_json(token_socket))["via"] == "token"

        await sync_to_async(client_one.post)("/logout/")
        assert await recv_json(one) == {"type": "session_ended"}
        assert await closed_with(one) == 4003
        assert await silent(two)  # another browser's session lives on
        # One session's end is not the token's: it lives on.
        await token_socket.send(json.dumps({"type": "ping"}))
        assert await recv_json(token_socket) == {"type": "pong"}

        def change_password():
            alice.set_password("a-new-password-2026")
            alice.save()

        await sync_to_async(change_password)()
        assert await recv_json(two) == {"type": "session_ended"}
        assert await closed_with(two) == 4003
        # Every sign-in ended: the token-authenticated socket closes too.
        assert await recv_json(token_socket) == {"type": "session_ended"}
        assert await closed_with(token_socket) == 4003

    run(scenario)


def test_this_wasnt_me_closes_the_users_token_sockets_too(server, make_user):
    """The lock link of a "was this you?" email: the account's JWT sockets
    (an attacker's API client) close at once, not when the token expires;
    another user's socket is untouched."""
    from accounts.security import account_lock_token

    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")

    async def token_socket(user):
        ws = await websockets.connect(server["url"])
        await ws.send(json.dumps({"type": "authenticate", "token": access_token(user)}))
        assert (await recv_json(ws))["via"] == "token"
        return ws

    async def scenario():
        attacker, other = await token_socket(alice), await token_socket(bob)
        token = await sync_to_async(account_lock_token)(alice)
        locked = await sync_to_async(Client().post)(f"/account/lock/{token}/")
        assert locked.status_code == 200
        assert await recv_json(attacker) == {"type": "session_ended"}
        assert await closed_with(attacker) == 4003
        await other.send(json.dumps({"type": "ping"}))
        assert await recv_json(other) == {"type": "pong"}
        await other.close()

    run(scenario)

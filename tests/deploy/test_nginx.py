"""The production profile behind a real nginx: Debian's nginx with the deploy
site terminating TLS (a certificate made by openssl here), in front of one
node's gunicorn, Daphne, Celery worker and beat, started from deploy/Procfile
by honcho, on PostgreSQL (the test database) and a Redis of the test's own."""

import asyncio
import json
import shutil
import socket
from decimal import Decimal

import httpx
import pytest
import redis
import websockets
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from accounts.models import User
from tests.deploy.stack import (
    Nginx,
    Node,
    PrivateRedis,
    authenticated_socket,
    envelope,
    make_certificate,
    next_trade_update,
    production_env,
    tls_context,
    wait_for,
    world_readable_dir,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_reserves, fund_wallet
from tests.notifications.resend_stub import ResendStub

pytestmark = pytest.mark.django_db(transaction=True)

AUTH_IP_LIMIT = 5


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory, static_root):
    workdir = tmp_path_factory.mktemp("nginx-stack")
    tls = world_readable_dir("dtx-tls-")
    cert, key = make_certificate(tls, ips=["127.0.0.1"])
    with django_db_blocker.unblock():
        db_url = database_url()
    private_redis = PrivateRedis(workdir / "redis")
    resend = ResendStub().__enter__()
    node = Node("a", env={}, processes=("web", "ws", "worker", "beat"))
    nginx = Nginx(cert=cert, key=key, static_root=static_root, web=[node.web], ws=[node.ws])
    node.env = production_env(
        database_url=db_url,
        redis_url=private_redis.url,
        var_dir=workdir / "var",
        site_url=nginx.base_url,
        allowed_hosts=["127.0.0.1"],
        resend_url=resend.url,
        extra={"THROTTLE_AUTH_IP": f"{AUTH_IP_LIMIT}/min"},
    )
    try:
        private_redis.start()
        node.start(workdir)
        nginx.start()
        node.wait_serving()
        yield {"nginx": nginx, "node": node, "redis": private_redis, "cert": cert}
    finally:
        nginx.stop()
        node.stop(hard=True)
        private_redis.stop()
        resend.__exit__(None, None, None)
        shutil.rmtree(tls, ignore_errors=True)


def client(stack, *, source: str) -> httpx.Client:
    """An HTTPS client of the site that connects from ``source`` (a loopback
    address of its own, so the proxy's address and the client's differ)."""
    transport = httpx.HTTPTransport(verify=tls_context(stack["cert"]), local_address=source)
    return httpx.Client(base_url=stack["nginx"].base_url, transport=transport, timeout=20)


def customer(email: str) -> User:
    user = UserFactory(email=email)
    # The node runs the production password hasher (the suite's is MD5).
    password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "deploysalt", iterations=1000)
    User.objects.filter(pk=user.pk).update(password=password)
    return user


def test_sign_in_trade_and_the_trade_update_arrives_over_nginx(stack):
    user = customer("nginx-journey@example.test")
    fund_wallet(user, "UGX", "500000")
    fund_reserves()
    http = client(stack, source="127.0.0.4")
    # Beat's first price refresh (simulated prices) may still be on its way.
    wait_for(
        lambda: http.get("/api/trading/prices?crypto=BTC&fiat=UGX").status_code == 200,
        timeout=30,
        what="prices",
    )
    signed_in = http.post(
        "/api/auth/token", json={"email": user.email, "password": DEFAULT_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    access = signed_in.json()["access"]
    # Behind the proxy the app knows the request came over HTTPS.
    assert "max-age=31536000" in signed_in.headers["strict-transport-security"]
    request_id = signed_in.headers["x-request-id"]
    # nginx logs a request once it is done, which can be just after the answer.
    wait_for(
        lambda: f"rid={request_id}" in stack["nginx"].access_log(),
        timeout=5,
        what="the request's line in nginx's log",
    )

    async def scenario():
        ws = await authenticated_socket(
            stack["nginx"].ws_url,
            access,
            stack["nginx"].base_url,
            ssl=tls_context(stack["cert"]),
        )
        try:
            bought = await asyncio.to_thread(
                http.post,
                "/api/trading/buy",
                headers={"Authorization": f"Bearer {access}"},
                json={
                    "crypto_currency": "BTC",
                    "fiat_currency": "UGX",
                    "amount": "360000",
                    "payment_method": "balance",
                    "payment_details": {},
                },
            )
            assert bought.status_code == 201, bought.text
            trade = bought.json()
            assert trade["status"] == "completed"
            update = await next_trade_update(ws, trade["reference"])
            assert update["data"]["status"] == "completed"
            return trade
        finally:
            await ws.close()

    trade = asyncio.run(scenario())
    balances = http.get(
        "/api/trading/balances", headers={"Authorization": f"Bearer {access}"}
    ).json()["balances"]
    held = {b["currency"]: Decimal(b["balance"]) for b in balances}
    assert held["UGX"] == 500000 - 360000
    assert held["BTC"] == Decimal(trade["crypto_amount"])


def test_static_files_come_from_nginx(stack):
    http = client(stack, source="127.0.0.5")
    response = http.get("/static/css/site.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public" or "public" in response.headers.get(
        "cache-control", ""
    )
    # Django stamps every response it makes; this one never reached it.
    assert "x-request-id" not in response.headers


def test_plain_http_is_redirected_to_https(stack):
    nginx = stack["nginx"]
    response = httpx.get(f"http://127.0.0.1:{nginx.http_port}/dashboard/", timeout=10)
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")


def test_rate_limits_see_the_real_client_address_and_it_cannot_be_forged(stack):
    # verify-email is limited per client address (auth_ip) and answers a wrong
    # code at once (no password hashing), so the limit is reached quickly.
    attacker = client(stack, source="127.0.0.2")
    for attempt in range(AUTH_IP_LIMIT):
        response = attacker.post(
            "/api/auth/verify-email",
            # A fresh forged address each time: were it believed, no limit would bite.
            headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
            json={"email": f"nobody{attempt}@example.test", "code": "000000"},
        )
        assert response.status_code == 400, response.text
    refused = attacker.post(
        "/api/auth/verify-email",
        headers={"X-Forwarded-For": "203.0.113.99", "X-Real-IP": "203.0.113.99"},
        json={"email": "nobody-last@example.test", "code": "000000"},
    )
    assert refused.status_code == 429
    assert envelope(refused)["code"] == "throttled"
    assert int(refused.headers["retry-after"]) >= 1
    # Another client (another address) is not limited by the first one's tries.
    other = client(stack, source="127.0.0.3").post(
        "/api/auth/verify-email", json={"email": "someone@example.test", "code": "000000"}
    )
    assert other.status_code == 400
    keys = [
        key.decode()
        for key in redis.Redis.from_url(stack["redis"].url).scan_iter("*throttle:auth_ip*")
    ]
    assert any("127.0.0.2" in key for key in keys), keys
    assert any("127.0.0.3" in key for key in keys), keys
    assert not any("203.0.113" in key for key in keys), keys


def test_api_errors_of_nginx_itself_are_json_envelopes(stack, tmp_path):
    http = client(stack, source="127.0.0.6")
    too_large = http.post(
        "/api/auth/token",
        content=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert too_large.status_code == 413
    assert envelope(too_large)["code"] == "request_too_large"
    # The app's own errors pass through untouched.
    missing = http.get("/api/trading/trades/not-a-trade")
    assert missing.status_code in (401, 404)
    assert envelope(missing)["code"] in ("not_authenticated", "not_found")

    nginx = stack["nginx"]
    cert, key = stack["cert"], stack["cert"].parent / "key.pem"
    static_root = nginx.prefix  # any readable folder: no static file is asked for

    # 502: nothing listens where the app should be.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    down = Nginx(cert=cert, key=key, static_root=static_root, web=[dead], ws=[dead]).start()
    # 504: an app that never accepts (its backlog full), so connecting times out.
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(0)
    fillers = [socket.socket() for _ in range(4)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(stuck.getsockname())
    address = f"127.0.0.1:{stuck.getsockname()[1]}"
    slow = Nginx(cert=cert, key=key, static_root=static_root, web=[address], ws=[address]).start()
    try:
        for proxy, status, code in (
            (down, 502, "service_unavailable"),
            (slow, 504, "gateway_timeout"),
        ):
            transport = httpx.HTTPTransport(verify=tls_context(cert))
            with httpx.Client(base_url=proxy.base_url, transport=transport, timeout=30) as c:
                response = c.get("/api/trading/prices?crypto=BTC&fiat=UGX")
                assert response.status_code == status, response.text
                assert envelope(response)["code"] == code
                assert response.headers["retry-after"] == "5"
                page = c.get("/dashboard/")
                assert page.status_code == status  # the site's own pages are not the API
    finally:
        down.stop()
        slow.stop()
        for filler in fillers:
            filler.close()
        stuck.close()


def test_websocket_frames_over_the_limit_are_refused(stack):
    async def scenario():
        async with websockets.connect(
            stack["nginx"].ws_url,
            ssl=tls_context(stack["cert"]),
            origin=stack["nginx"].base_url,
            max_size=None,
        ) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 10)) != {"type": "pong"}:
                pass  # public price_update messages may come first
            await ws.send("x" * 100_000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value

    closed = asyncio.run(scenario())
    # Daphne fails the connection (1009, message too big) before buffering
    # the frame; whether the close frame makes it back through nginx or only
    # the TCP close does, the socket is gone.
    assert closed.rcvd is None or closed.rcvd.code == 1009

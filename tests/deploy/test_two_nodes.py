"""Two app nodes, each in a network namespace of its own (its own loopback,
its own address on a veth pair), each running the Procfile's gunicorn,
Daphne and Celery worker under honcho (beat on node B only: one per site),
behind one nginx balancing over both, sharing a private PostgreSQL and
Redis that listen on the test's own veth address, with the Relworx sandbox
on that address too. The schema is migrated once, as the release step,
before either node starts."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from payments.sandbox import SandboxServer
from tests.deploy.cluster import Hosts, PrivatePostgres
from tests.deploy.stack import (
    ROOT,
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
from tests.factories import DEFAULT_PASSWORD
from tests.notifications.resend_stub import ResendStub

AUTH_IP_LIMIT = 5
USERS = ["node-alice@example.test", "node-bob@example.test", "node-load@example.test"]
WEBHOOK_PATH = "/api/payments/relworx/webhook"


def _child(command: str, *args: str, env: dict) -> dict:
    result = subprocess.run(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "tests.deploy.cluster_child", command, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


class _Closing:
    def __init__(self, close):
        self.stop = close


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, static_root):
    workdir = tmp_path_factory.mktemp("two-nodes")
    hosts = Hosts(2)
    parts: list = []
    try:
        hosts.up()
        server = hosts.server_address
        pg = PrivatePostgres(host=server, trusted=f"10.231.{hosts.subnet}.0/24")
        parts.append(pg.start())
        redis_server = PrivateRedis(workdir / "redis", host=server)
        parts.append(redis_server.start())
        resend = ResendStub(host=server).__enter__()
        parts.append(_Closing(lambda: resend.__exit__(None, None, None)))
        tls = world_readable_dir("dtx-tls-")
        cert, key = make_certificate(tls, ips=["127.0.0.1"])
        sandbox = SandboxServer(
            host=server,
            api_key="cluster-relworx-key",
            account_no="RELCLUSTER01",
            webhook_url="set below",
            webhook_secret="cluster-webhook-secret",
            webhook_delay=1.0,
            webhook_gap=0.6,
            # Its webhooks go to nginx over HTTPS, checked against the test's certificate.
            webhook_cafile=str(cert),
        ).start()
        a = Node("a", env={}, host=hosts.addr(0), netns=hosts.names[0])
        b = Node(
            "b",
            env={},
            host=hosts.addr(1),
            netns=hosts.names[1],
            processes=("web", "ws", "worker", "beat"),
        )
        nginx = Nginx(
            cert=cert, key=key, static_root=static_root, web=[a.web, b.web], ws=[a.ws, b.ws]
        )
        sandbox.webhook_url = f"{nginx.base_url}{WEBHOOK_PATH}"
        common = dict(
            database_url=pg.url(),
            redis_url=redis_server.url,
            site_url=nginx.base_url,
            allowed_hosts=["127.0.0.1", a.host, b.host],
            resend_url=resend.url,
            extra={
                "THROTTLE_AUTH_IP": f"{AUTH_IP_LIMIT}/min",
                "THROTTLE_TRADING": "100000/min",
                "RELWORX_BASE_URL": sandbox.base_url,
                "RELWORX_API_KEY": sandbox.api_key,
                "RELWORX_ACCOUNT_NO": sandbox.account_no,
                "RELWORX_WEBHOOK_SECRET": sandbox.webhook_secret,
                "RELWORX_WEBHOOK_URL": sandbox.webhook_url,
                "RELWORX_TIMEOUT_SECONDS": "5",
            },
        )
        a.env = production_env(var_dir=workdir / "var-a", **common)
        b.env = production_env(var_dir=workdir / "var-b", **common)
        # The release step, once, from node A's host, before any node starts.
        subprocess.run(  # noqa: S603
            [
                "/usr/sbin/ip",
                "netns",
                "exec",
                a.netns,
                sys.executable,
                "manage.py",
                "migrate",
                "--noinput",
            ],
            cwd=ROOT,
            env=a.env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        child_env = {
            **os.environ,
            "DATABASE_URL": pg.url(),
            "REDIS_URL": redis_server.url,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            # The nodes' keys: the rows the seed writes are theirs.
            "SECRET_KEY": a.env["SECRET_KEY"],
            "FIELD_ENCRYPTION_KEY": a.env["FIELD_ENCRYPTION_KEY"],
        }
        ids = _child("seed", *USERS, env=child_env)
        for node in (a, b):
            node.start(workdir)
            parts.append(node)
        parts.append(nginx.start())
        for node in (a, b):
            node.wait_serving()
        yield {
            "hosts": hosts,
            "a": a,
            "b": b,
            "nginx": nginx,
            "cert": cert,
            "sandbox": sandbox,
            "ids": ids,
            "state": lambda: _child("state", env=child_env),
        }
    finally:
        # A lost machine, not a shutdown: nothing here needs the processes' goodbyes.
        for part in parts:
            if isinstance(part, Node):
                part.stop(hard=True)
        try:
            for part in reversed(parts):
                part.stop()
            if "sandbox" in locals():
                sandbox.stop()
        finally:
            hosts.down()
        if "tls" in locals():
            shutil.rmtree(tls, ignore_errors=True)


def proxied(cluster) -> httpx.Client:
    transport = httpx.HTTPTransport(verify=tls_context(cluster["cert"]))
    return httpx.Client(base_url=cluster["nginx"].base_url, transport=transport, timeout=20)


def direct(cluster, node: str, *, source: str | None = None) -> httpx.Client:
    """Straight to one node's gunicorn, as nginx would send it (HTTPS said by
    the forwarded header), from one root-side address for either node (by
    default the servers' one)."""
    transport = httpx.HTTPTransport(local_address=source or cluster["hosts"].server_address)
    return httpx.Client(
        base_url=f"http://{cluster[node].web}",
        transport=transport,
        headers={"X-Forwarded-Proto": "https"},
        timeout=20,
    )


def sign_in(http: httpx.Client, email: str) -> str:
    response = http.post("/api/auth/token", json={"email": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access"]


def buy(http: httpx.Client, access: str, *, amount: str = "36000", key: str | None = None):
    headers = {"Authorization": f"Bearer {access}"}
    if key:
        headers["Idempotency-Key"] = key
    return http.post(
        "/api/trading/buy",
        headers=headers,
        json={
            "crypto_currency": "BTC",
            "fiat_currency": "UGX",
            "amount": amount,
            "payment_method": "balance",
            "payment_details": {},
        },
    )


def wait_prices(http: httpx.Client) -> None:
    seen = []

    def fresh():
        response = http.get("/api/trading/prices?crypto=BTC&fiat=UGX")
        seen.append(f"{response.status_code} {response.text[:300]}")
        return response.status_code == 200

    try:
        wait_for(fresh, timeout=30, what="prices (beat on node B)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer: {seen[-1:]}") from None


def test_a_trade_opened_through_node_a_is_seen_live_on_node_b(cluster):
    on_a = direct(cluster, "a")
    wait_prices(on_a)
    access = sign_in(on_a, USERS[0])

    async def scenario():
        ws = await authenticated_socket(
            f"ws://{cluster['b'].ws}/ws/trading", access, cluster["nginx"].base_url
        )
        try:
            bought = await asyncio.to_thread(buy, on_a, access)
            assert bought.status_code == 201, bought.text
            update = await next_trade_update(ws, bought.json()["reference"])
            assert update["data"]["status"] == "completed"
        finally:
            await ws.close()

    asyncio.run(scenario())


def test_rate_limits_and_sessions_are_shared_by_the_nodes(cluster):
    # From an address of its own: no other test's sign-in counts against it.
    source = cluster["hosts"].gateway(1)
    nodes = [direct(cluster, "a", source=source), direct(cluster, "b", source=source)]
    for attempt in range(AUTH_IP_LIMIT):
        response = nodes[attempt % 2].post(
            "/api/auth/verify-email",
            json={"email": f"guess{attempt}@example.test", "code": "000000"},
        )
        assert response.status_code == 400, response.text
    for node in nodes:  # the limit counted on both nodes holds on each
        refused = node.post(
            "/api/auth/verify-email", json={"email": "guess@example.test", "code": "000000"}
        )
        assert refused.status_code == 429
        assert envelope(refused)["code"] == "throttled"

    # A site session made on node A is good on node B.
    on_a, on_b = direct(cluster, "a"), direct(cluster, "b")
    site = cluster["nginx"].base_url
    form = on_a.get("/login/")
    assert form.status_code == 200
    csrf = form.cookies["csrftoken"]
    token = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    signed_in = on_a.post(
        "/login/",
        data={"username": USERS[1], "password": DEFAULT_PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{site}/login/", "Cookie": f"csrftoken={csrf}"},
    )
    assert signed_in.status_code == 302, signed_in.text[-2000:]
    session = signed_in.cookies["sessionid"]
    dashboard = on_b.get("/dashboard/", headers={"Cookie": f"sessionid={session}"})
    assert dashboard.status_code == 200
    assert "/login/" not in str(dashboard.url)
    anonymous = on_b.get("/dashboard/")
    assert anonymous.status_code == 302  # without the cookie: sent to sign in


def test_a_webhook_arriving_at_either_node_settles_the_payment_once(cluster):
    http, on_a = proxied(cluster), direct(cluster, "a")
    wait_prices(on_a)
    access = sign_in(on_a, USERS[1])
    auth = {"Authorization": f"Bearer {access}"}
    before = on_a.get("/api/trading/balances", headers=auth).json()
    log_mark = len(cluster["nginx"].access_log())
    # +256770000004: the sandbox's payment succeeds and it sends the webhook
    # twice, 0.6 s apart, through nginx, which gives one to each node.
    opened = http.post(
        "/api/trading/buy",
        headers=auth,
        json={
            "crypto_currency": "BTC",
            "fiat_currency": "UGX",
            "amount": "50000",
            "payment_method": "mobile_money",
            "payment_details": {"phone_number": "+256770000004"},
        },
    )
    assert opened.status_code == 201, opened.text
    trade = opened.json()
    assert trade["status"] == "pending"

    def settled():  # polled on node A directly, so nginx carries only the webhooks
        body = on_a.get(f"/api/trading/trades/{trade['id']}", headers=auth).json()
        return body if body["status"] == "completed" else None

    sandbox = cluster["sandbox"]
    try:
        # Well under RELWORX_POLL_AFTER (60 s): settled by the webhooks, not by the poller.
        done = wait_for(settled, timeout=30, what="the payment to settle", interval=0.3)
    except AssertionError as exc:
        raise AssertionError(_where_it_stopped(cluster, exc)) from None
    wait_for(
        lambda: len([d for d in sandbox.deliveries if d["status"] == "success"]) >= 2,
        timeout=15,
        what="both webhook deliveries",
    )
    deliveries = [d for d in sandbox.deliveries if d["status"] == "success"]
    assert [d["http_status"] for d in deliveries] == [200, 200]

    def webhook_lines():
        log = cluster["nginx"].access_log()[log_mark:]
        return [line for line in log.splitlines() if f"POST {WEBHOOK_PATH}" in line]

    # nginx logs a request once it is done, which can be just after the answer.
    wait_for(lambda: len(webhook_lines()) >= 2, timeout=5, what="both webhooks in nginx's log")
    lines = webhook_lines()
    upstreams = {line.split("upstream=", 1)[1].split()[0] for line in lines}
    assert upstreams == {cluster["a"].web, cluster["b"].web}, lines
    after = on_a.get("/api/trading/balances", headers=auth).json()
    credited = _amount(after, "BTC") - _amount(before, "BTC")
    assert str(credited.normalize()) == str(_decimal(done["crypto_amount"]).normalize())
    state = cluster["state"]()
    assert state["trades"][trade["reference"]]["status"] == "completed"
    assert state["reconciled"], state["problems"]


def _where_it_stopped(cluster, exc) -> str:
    """A failed wait's message: the payment, its webhooks and the nodes' logs."""
    state = cluster["state"]()
    return "\n".join(
        [
            str(exc),
            f"payments: {state['payments']}",
            f"webhook events: {state['webhooks']}",
            f"sandbox requests: {cluster['sandbox'].listing()}",
            f"sandbox deliveries: {cluster['sandbox'].deliveries}",
            f"nginx: {cluster['nginx'].access_log()[-3000:]}",
            f"node a: {cluster['a'].log()}",
            f"node b: {cluster['b'].log()}",
        ]
    )


def _decimal(value):
    from decimal import Decimal

    return Decimal(str(value))


def _amount(balances, currency: str):
    for item in balances["balances"]:
        if item["currency"] == currency:
            return _decimal(item["balance"])
    return _decimal(0)


def test_stopping_node_a_loses_no_trade_and_node_b_keeps_serving(cluster):
    http = proxied(cluster)
    wait_prices(http)
    access = sign_in(http, USERS[2])
    results: dict[str, list] = {}  # Idempotency-Key -> every answer it got
    stop = threading.Event()
    killed_at: list[float] = []

    def load():
        client = proxied(cluster)
        while not stop.is_set():
            key = f"load-{uuid.uuid4()}"
            try:
                response = buy(client, access, key=key)
                results[key] = [(time.monotonic(), response.status_code, response)]
            except httpx.TransportError as exc:
                results[key] = [(time.monotonic(), None, exc)]

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(3)
    killed_at.append(time.monotonic())
    cluster["a"].stop(hard=True)  # every process of node A at once, as a lost machine
    time.sleep(4)
    stop.set()
    thread.join(timeout=30)

    failed = {key: answers for key, answers in results.items() if answers[0][1] != 201}
    succeeded = {key for key, answers in results.items() if answers[0][1] == 201}
    assert len(succeeded) > 10, f"too few trades under load: {len(results)} requests"
    for key, answers in failed.items():
        when, status, response = answers[0]
        # Only requests in flight on node A when it died fail: as nginx's JSON
        # 502/504 when node A never answered, or as a connection nginx closes
        # mid-answer when node A died after sending its response headers.
        assert when >= killed_at[0], (status, getattr(response, "text", response))
        if status is None:
            assert isinstance(response, httpx.RemoteProtocolError), repr(response)
        else:
            assert status in (502, 504), (status, response.text)
            envelope(response)
        # The client retries with its Idempotency-Key: a trade made before the
        # answer was lost is replayed, never made twice; else it is made now.
        retried = buy(http, access, key=key)
        assert retried.status_code in (200, 201), retried.text
        answers.append((time.monotonic(), retried.status_code, retried))
    assert len(failed) <= 4, f"{len(failed)} failures: more than the requests in flight"

    references = {answers[-1][2].json()["reference"] for answers in results.values()}
    assert len(references) == len(results)  # one trade per key, none twice
    state = cluster["state"]()
    for reference in references:
        assert state["trades"][reference]["status"] == "completed", reference
    assert state["reconciled"], state["problems"]  # no wallet negative among its checks

    # Node B keeps serving: a new trade through nginx, live on B's socket.
    async def scenario():
        ws = await _tls_socket(cluster, access)
        try:
            bought = await asyncio.to_thread(buy, http, access)
            assert bought.status_code == 201, bought.text
            await next_trade_update(ws, bought.json()["reference"])
        finally:
            await ws.close()

    asyncio.run(scenario())


async def _tls_socket(cluster, access: str):
    return await authenticated_socket(
        cluster["nginx"].ws_url,
        access,
        cluster["nginx"].base_url,
        ssl=tls_context(cluster["cert"]),
    )

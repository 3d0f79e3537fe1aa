"""What nginx costs, and what a second node brings, on this machine.

Back to back, on one private PostgreSQL and Redis (servers of its own) and the
production profile, CLIENTS threads trade (buy BTC with the wallet balance,
sell it back) for DURATION seconds against:

1. one node's gunicorn (the Procfile's ``web``, 4 workers), directly (HTTP);
2. the same gunicorn through the deploy nginx site (TLS terminated there);
3. two nodes in network namespaces of their own (2 workers each: the same
   4 processes in all), through nginx balancing over both.

Each client keeps one keep-alive connection (httpx), so the difference in
1 → 2 is the proxy hop and TLS, not connection set-up. Setups 1 and 2 run
ROUNDS times each, interleaved (ABBA), and are compared by their medians;
setup 3 runs once, last. Prints trades/s and
p50/p99 latency per setup. Needs root (namespaces, nginx as nobody).

    flock /tmp/dtx-cpu.lock .venv/bin/python benchmarks/proxy_nodes.py -c 16 -d 10 -r 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.deploy.cluster import Hosts, PrivatePostgres  # noqa: E402
from tests.deploy.stack import (  # noqa: E402
    Nginx,
    Node,
    PrivateRedis,
    collect_static,
    make_certificate,
    production_env,
    tls_context,
    wait_for,
    world_readable_dir,
)
from tests.notifications.resend_stub import ResendStub  # noqa: E402

PASSWORD = "pass-1234-word"  # noqa: S105 - tests.factories.DEFAULT_PASSWORD (the seed sets it)
BODIES = [
    ("/api/trading/buy", {"crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "36000",
                          "payment_method": "balance", "payment_details": {}}),
    ("/api/trading/sell", {"crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "0.00005",
                           "payment_method": "balance", "payment_details": {}}),
]  # fmt: skip


def _code(response: httpx.Response) -> str:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "not an envelope"


def load(base_url: str, tokens: list[str], seconds: float, *, verify, headers: dict) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    start_at = time.perf_counter() + 2.0  # warm-up: connections, caches
    end_at = start_at + seconds

    def client(i: int, token: str) -> None:
        http = httpx.Client(
            base_url=base_url,
            verify=verify,
            timeout=30,
            headers={**headers, "Authorization": f"Bearer {token}"},
        )
        k = i
        while (t0 := time.perf_counter()) < end_at:
            path, body = BODIES[k % 2]
            k += 1
            try:
                response = http.post(path, json=body)
                status = response.status_code
                what = "" if status == 201 else f"{status} {_code(response)}"
            except httpx.TransportError as exc:
                what = type(exc).__name__
            if t0 >= start_at:
                with lock:
                    if what:
                        errors[what] = errors.get(what, 0) + 1
                    else:
                        latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client, args=(i, t)) for i, t in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = sorted(latencies) or [0.0]
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return {
        "trades_per_s": len(latencies) / seconds,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "errors": errors,
    }


DIRECT = "one node, direct (HTTP)"
PROXIED = "one node, through nginx (TLS)"


def interleaved(rounds: int) -> list[str]:
    """Direct and nginx phases in ABBA order (direct, nginx, nginx, direct,
    ...), so a host drifting during the run weighs on both alike."""
    order: list[str] = []
    for k in range(rounds):
        order += [DIRECT, PROXIED] if k % 2 == 0 else [PROXIED, DIRECT]
    return order


def median_of(runs: list[dict]) -> dict:
    return {
        "trades_per_s": statistics.median(r["trades_per_s"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "errors": dict(sum((Counter(r["errors"]) for r in runs), Counter())),
    }


def show(name: str, r: dict) -> None:
    print(
        f"  {name:45s} {r['trades_per_s']:7.1f} trades/s  p50 {r['p50_ms']:6.1f} ms  "
        f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors'] or 0}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--clients", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=20.0, help="seconds a phase")
    parser.add_argument(
        "-r", "--rounds", type=int, default=3, help="direct/nginx phases of each, interleaved"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dtx-proxy-"))
    hosts = Hosts(2)
    parts: list = []
    try:
        hosts.up()
        server = hosts.server_address
        pg = PrivatePostgres(host=server, trusted=f"10.231.{hosts.subnet}.0/24").start()
        parts.append(pg)
        redis_server = PrivateRedis(work / "redis", host=server).start()
        parts.append(redis_server)
        tls = world_readable_dir("dtx-proxy-tls-")
        cert, key = make_certificate(tls, ips=["127.0.0.1"])
        static_root = collect_static()
        root_node = Node("root", env={}, processes=("web",))
        nodes = [
            Node(name, env={}, host=hosts.addr(i), netns=hosts.names[i], processes=("web",))
            for i, name in enumerate(("a", "b"))
        ]
        one = Nginx(
            cert=cert, key=key, static_root=static_root, web=[root_node.web], ws=["127.0.0.1:9"]
        )
        two = Nginx(
            cert=cert, key=key, static_root=static_root,
            web=[n.web for n in nodes], ws=["127.0.0.1:9"],
        )  # fmt: skip
        resend = ResendStub(host=server).__enter__()
        common = dict(
            resend_url=resend.url,
            database_url=pg.url(),
            redis_url=redis_server.url,
            allowed_hosts=["127.0.0.1", *(n.host for n in nodes)],
            extra={
                "THROTTLE_TRADING": "1000000/min",
                "THROTTLE_AUTH_IP": "100000/min",
                "THROTTLE_AUTH_ACCOUNT": "100000/min",
                # Prices refreshed once below; no beat competes for the cores
                # (a trade also wants the price's crypto leg this fresh).
                "PRICE_MAX_AGE_SECONDS": "3600",
                "QUOTE_PRICE_MAX_AGE_SECONDS": "3600",
                "OUTBOX_DISPATCH_ON_COMMIT": "false",
                # Buy limits are checked as in production, above what a run uses.
                "LIMIT_TIER1_BUY_DAILY_UGX": "1000000000000000",
                "LIMIT_TIER1_BUY_MONTHLY_UGX": "1000000000000000",
            },
        )
        root_node.env = production_env(var_dir=work / "var-root", site_url=one.base_url, **common)
        root_node.env["WEB_CONCURRENCY"] = "4"
        for node in nodes:
            node.env = production_env(
                var_dir=work / f"var-{node.name}", site_url=two.base_url, **common
            )
            node.env["WEB_CONCURRENCY"] = "2"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT, env=root_node.env, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        child_env = {
            **os.environ,
            "DATABASE_URL": pg.url(),
            "REDIS_URL": redis_server.url,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SECRET_KEY": root_node.env["SECRET_KEY"],
            "FIELD_ENCRYPTION_KEY": root_node.env["FIELD_ENCRYPTION_KEY"],
        }
        emails = [f"bench{i}@example.test" for i in range(args.clients)]
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "tests.deploy.cluster_child", "seed", *emails],
            cwd=ROOT, env=child_env, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from trading.services.prices import prices_refresh; prices_refresh()"],
            cwd=ROOT, env=root_node.env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        for part in (root_node, *nodes):
            part.start(work)
            parts.append(part)
        for proxy in (one, two):
            parts.append(proxy.start())
        for part in (root_node, *nodes):
            wait_for(
                lambda part=part: (
                    httpx.get(f"http://{part.web}/healthz", timeout=2).status_code == 200
                ),
                timeout=120,
                what=f"node {part.name}",
                interval=0.3,
            )
        verify = tls_context(cert)
        with httpx.Client(base_url=one.base_url, verify=verify, timeout=60) as http:
            tokens = [
                http.post("/api/auth/token", json={"email": e, "password": PASSWORD}).json()[
                    "access"
                ]
                for e in emails
            ]
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"}
        setups = {
            DIRECT: lambda: load(
                f"http://{root_node.web}", tokens, args.duration, verify=False, headers=forwarded
            ),
            PROXIED: lambda: load(one.base_url, tokens, args.duration, verify=verify, headers={}),
        }
        phases: dict[str, list[dict]] = {DIRECT: [], PROXIED: []}
        for name in interleaved(args.rounds):
            phases[name].append(setups[name]())
            show(f"{name}, phase {len(phases[name])}", phases[name][-1])
        root_node.stop(hard=True)  # its 4 workers leave the cores to the two nodes
        two_nodes = load(two.base_url, tokens, args.duration, verify=verify, headers={})
        print(f"{args.clients} clients, {args.duration:.0f} s a phase, buy/sell from the wallet")
        for name, runs in phases.items():
            show(f"{name} (median of {len(runs)})", median_of(runs))
        show("two nodes (2 workers each), through nginx", two_nodes)
        if (
            any(r["trades_per_s"] == 0 for runs in phases.values() for r in runs)
            or not (two_nodes["trades_per_s"])
        ):
            print("proxy_nodes: a setup made no trade; see its errors above", file=sys.stderr)
            return 1
        direct = median_of(phases[DIRECT])["trades_per_s"]
        proxied = median_of(phases[PROXIED])["trades_per_s"]
        print(f"  nginx costs {100 * (1 - proxied / direct):.1f} % of trades/s (medians)")
        return 0
    finally:
        for part in reversed(parts):
            try:
                part.stop(hard=True) if isinstance(part, Node) else part.stop()
            except Exception as exc:  # keep tearing down the rest
                print(f"teardown: {exc!r}", file=sys.stderr)
        hosts.down()
        if "resend" in locals():
            resend.__exit__(None, None, None)
        for folder in (locals().get("tls"), getattr(locals().get("static_root"), "parent", None)):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

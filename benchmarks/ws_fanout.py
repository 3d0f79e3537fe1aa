"""Live-update fan-out over /ws/trading, served as in production.

What it does, in one run:
1. prepares its own PostgreSQL database (``dtx_bench_ws``, migrated) with N
   active users and a JWT access token for each;
2. starts Daphne (DEBUG off, the production settings, the Redis pub/sub
   channel layer on Redis DB 6 with its own prefix: one Redis subscription
   per group per process, fanned out to the process's sockets in memory);
3. opens N WebSocket clients (asyncio + websockets, split over --procs client
   processes so the clients are not the bottleneck), each authenticating with
   its own token; counts connect/auth errors;
4. publishes U price updates the way production does: ``outbox_emit`` in a
   committed transaction, then the dispatcher (what the Celery worker runs)
   publishes them to the channel layer. Each update carries its send time;
   every client records when it got each one;
5. prints, per update, the delay until EVERY client had it (p50/p99 over the
   updates), the per-message delay (p50/p99 over all client x update pairs),
   missing messages, errors, and the Daphne process's RSS; then disconnects
   all clients at once and reports any server-side error.

Run (PostgreSQL and Redis on localhost, from the repository root):

    .venv/bin/python benchmarks/ws_fanout.py                 # 1,000 clients
    .venv/bin/python benchmarks/ws_fanout.py -n 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
PY = str(VENV_PY) if VENV_PY.exists() else sys.executable


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def bench_env(args) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.db}",
        REDIS_URL=args.redis_url,
        CHANNEL_PREFIX=f"dtxbench-{secrets.token_hex(3)}",
        CACHE_KEY_PREFIX="dtxbench-ws",
        SECRET_KEY=secrets.token_urlsafe(48),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        JWT_ACCESS_MINUTES="120",
        LOG_LEVEL="WARNING",
        LOG_JSON="false",
        DJANGO_SETTINGS_MODULE="dtexchange.settings",
        PYTHONPATH=str(ROOT),
        # Each client sends one message (authenticate): no rate limiting in play.
        OUTBOX_DISPATCH_ON_COMMIT="false",  # the benchmark runs the dispatcher itself
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- client processes ------------------------------------------------------------


async def _client_main(
    url: str, tokens: list[str], updates: int, conn, ready_timeout: float, wave: int
):
    import websockets

    received: list[dict[int, float]] = [{} for _ in tokens]
    errors: list[str] = []
    sockets: list = [None] * len(tokens)
    all_done = asyncio.Event()
    remaining = {"n": len(tokens)}

    async def one(i: int, token: str):
        try:
            ws = await websockets.connect(
                url, origin="http://127.0.0.1", open_timeout=60, max_queue=None
            )
        except Exception as exc:
            errors.append(f"connect: {type(exc).__name__}: {exc}")
            return False
        sockets[i] = ws
        await ws.send(json.dumps({"type": "authenticate", "token": token}))
        try:
            reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
        except Exception as exc:
            errors.append(f"auth: {type(exc).__name__}: {exc}")
            return False
        if reply.get("type") != "authenticated":
            errors.append(f"auth: {reply}")
            return False
        return True

    # Connect in waves, as real users would arrive (and to bound SYN backlog);
    # --wave 0 opens all of this process's sockets at once (a reconnect storm).
    wave = wave or len(tokens)
    for start in range(0, len(tokens), wave):
        await asyncio.gather(
            *(one(i, tokens[i]) for i in range(start, min(start + wave, len(tokens))))
        )
    conn.send(("ready", sum(1 for s in sockets if s is not None), errors[:5], len(errors)))

    async def reader(i: int, ws):
        seen = received[i]
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message.get("type") == "price_update":
                    seq = message["data"].get("seq")
                    if seq is not None:
                        seen[seq] = now  # absolute: the parent knows when it sent
                        if len(seen) == updates:
                            remaining["n"] -= 1
                            if remaining["n"] == 0:
                                all_done.set()
        except websockets.ConnectionClosed:
            pass

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(sockets) if ws]
    remaining["n"] = len(readers)
    # Wait for the publisher to finish (the parent tells us) or all messages.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)
    await asyncio.wait(
        [asyncio.create_task(stop.wait()), asyncio.create_task(all_done.wait())],
        timeout=ready_timeout,
        return_when=asyncio.FIRST_COMPLETED,
    )
    if not all_done.is_set():
        await asyncio.wait([asyncio.create_task(all_done.wait())], timeout=DRAIN_SECONDS)
    loop.remove_reader(conn.fileno())
    if conn.poll():
        conn.recv()
    # Mass disconnect: every socket closes at once.
    t0 = time.monotonic()
    await asyncio.gather(*(ws.close() for ws in sockets if ws), return_exceptions=True)
    close_s = time.monotonic() - t0
    for task in readers:
        task.cancel()
    connected = [received[i] for i, ws in enumerate(sockets) if ws is not None]
    conn.send(("done", connected, errors[:5], len(errors), close_s))


def client_process(url, tokens, updates, conn, ready_timeout, wave):
    raise_fd_limit()
    asyncio.run(_client_main(url, tokens, updates, conn, ready_timeout, wave))


# --- the run ---------------------------------------------------------------------


# After the last update, how long clients keep waiting for late messages.
DRAIN_SECONDS = 30
# One real password hash for every benchmark user (they sign in by token
# only): an unusable one ("!") is a locked account, refused live access.


def prepare_database(args, env) -> list[str]:
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
    os.environ.update(SECRET_KEY=env["SECRET_KEY"], DEBUG="false", LOG_LEVEL="WARNING")
    os.environ.update(CHANNEL_PREFIX=env["CHANNEL_PREFIX"])
    os.environ.update(OUTBOX_DISPATCH_ON_COMMIT="false", JWT_ACCESS_MINUTES="120")
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            shutil.which("psql") or "/usr/bin/psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            f"CREATE DATABASE {args.db}",
        ],
        capture_output=True,
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    call_command("migrate", verbosity=0)
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    password = make_password(secrets.token_urlsafe(16))
    emails = [f"wsbench{i}@example.test" for i in range(args.clients)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    User.objects.bulk_create(
        [User(email=e, password=password) for e in emails if e not in existing], batch_size=1000
    )
    users = User.objects.filter(email__in=emails).order_by("id")
    return [str(AccessToken.for_user(u)) for u in users]


def start_daphne(
    env, profile: str = "", connect_timeout: float = 5
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    prefix = [PY, "-m", "cProfile", "-o", profile] if profile else [PY]
    proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
        [
            *prefix,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--websocket_connect_timeout",
            str(connect_timeout),
            "dtexchange.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"daphne exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit("daphne did not start")


def publish(seq: int | None) -> tuple[float, float]:
    """Emit one price update and dispatch it; returns (time before the
    transaction, time the dispatcher started, i.e. after commit). Clients
    time the updates that carry a ``seq``; ``None`` is the warm-up."""
    from django.db import transaction

    from notifications.dispatch import outbox_deliver_live_batch
    from notifications.services import outbox_emit

    t_write = time.time()
    with transaction.atomic():
        outbox_emit(
            kind="price.updated",
            payload={
                "crypto": "BTC",
                "fiat": "USD",
                "price": f"{97000 + (seq or 0)}.00",
                "change": "0.01",
                "source": "benchmark",
                "at": "2026-11-25T00:00:00+00:00",
                **({} if seq is None else {"seq": seq}),
            },
        )
    t_dispatch = time.time()
    # What the Celery worker runs on commit.
    outbox_deliver_live_batch()
    return t_write, t_dispatch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--clients", type=int, default=1000)
    parser.add_argument("-u", "--updates", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between updates")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument(
        "--wave",
        type=int,
        default=200,
        help="sockets each client process opens at once (0: all at once)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=int,
        default=30,
        help="Daphne's --websocket_connect_timeout: 30 as in production (README); its default 5",
    )
    parser.add_argument("--db", default="dtx_bench_ws")
    parser.add_argument("--profile", default="", help="write Daphne's cProfile stats here")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    args = parser.parse_args()

    fds = raise_fd_limit()  # inherited by Daphne and the client processes
    env = bench_env(args)
    print(f"preparing {args.clients} users and tokens in {args.db} (fd limit {fds}) ...")
    tokens = prepare_database(args, env)
    server, port = start_daphne(env, args.profile, args.connect_timeout)
    url = f"ws://127.0.0.1:{port}/ws/trading"
    print(f"daphne pid {server.pid} on {url}")
    try:
        return measure(args, server, url, tokens)
    except BaseException:
        os.killpg(server.pid, signal.SIGKILL)
        raise


def measure(args, server: subprocess.Popen, url: str, tokens: list[str]) -> int:
    rss_idle = rss_mb(server.pid)
    ctx = mp.get_context("spawn")
    pipes, procs = [], []
    chunks = [tokens[i :: args.procs] for i in range(args.procs)]
    t_connect = time.monotonic()
    for chunk in chunks:
        parent, child = ctx.Pipe()
        p = ctx.Process(
            target=client_process,
            args=(url, chunk, args.updates, child, 120, args.wave),
            daemon=True,
        )
        p.start()
        pipes.append(parent)
        procs.append(p)
    connected, connect_errors, samples = 0, 0, []
    for pipe in pipes:
        _, n, sample, n_errors = pipe.recv()
        connected += n
        connect_errors += n_errors
        samples += sample
    connect_s = time.monotonic() - t_connect
    rss_connected = rss_mb(server.pid)
    print(
        f"connected+authenticated {connected}/{args.clients} in {connect_s:.1f} s, "
        f"errors {connect_errors} {samples[:2]}"
    )
    time.sleep(1.0)
    # Warm-up, not timed: the first publish of a dispatcher process starts its
    # publisher event loop and Redis connection (~150 ms here), once per
    # Celery worker process, not per event. Every client receives it too.
    t0 = time.monotonic()
    publish(None)
    warmup_ms = (time.monotonic() - t0) * 1000
    time.sleep(args.interval)
    publish_ms, sent = [], {}
    for seq in range(args.updates):
        t0 = time.monotonic()
        sent[seq] = publish(seq)
        publish_ms.append((time.monotonic() - t0) * 1000)
        time.sleep(args.interval)
    rss_peak = rss_mb(server.pid)
    for pipe in pipes:
        # A client process that already has every update has stopped listening.
        with contextlib.suppress(BrokenPipeError):
            pipe.send("stop")
    per_update: dict[int, list[float]] = {seq: [] for seq in range(args.updates)}
    full_path: dict[int, list[float]] = {seq: [] for seq in range(args.updates)}
    missing, client_errors, close_s = 0, 0, 0.0
    for pipe in pipes:
        _, received, _sample, n_errors, closed = pipe.recv()
        client_errors += n_errors
        close_s = max(close_s, closed)
        for seen in received:
            for seq in range(args.updates):
                if seq in seen:
                    per_update[seq].append(seen[seq] - sent[seq][1])
                    full_path[seq].append(seen[seq] - sent[seq][0])
                else:
                    missing += 1
    for p in procs:
        p.join(timeout=30)
    time.sleep(2)  # let the server process the mass disconnect
    server.send_signal(signal.SIGTERM)
    try:
        _, stderr = server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        _, stderr = server.communicate()
    log = stderr.decode(errors="replace")
    server_errors = [line for line in log.splitlines() if "Error" in line or "Traceback" in line]

    all_have = [max(d) * 1000 for d in per_update.values() if d]
    each = [x * 1000 for d in per_update.values() for x in d]
    all_have_full = [max(d) * 1000 for d in full_path.values() if d]
    print()
    print(f"clients {args.clients}, updates {args.updates}")
    print(
        "delay from dispatch (after commit) until every client had an update: "
        f"p50 {percentile(all_have, 50):.0f} ms, "
        f"p99 {percentile(all_have, 99):.0f} ms (max {max(all_have, default=float('nan')):.0f})"
    )
    print(
        f"  the same from before the event's transaction (DB write + commit included): "
        f"p50 {percentile(all_have_full, 50):.0f} ms, p99 {percentile(all_have_full, 99):.0f} ms"
    )
    print(
        f"per-message delay: p50 {percentile(each, 50):.0f} ms, "
        f"p99 {percentile(each, 99):.0f} ms over {len(each)} messages"
    )
    print(
        f"publish (commit + dispatcher until Redis has it): p50 {percentile(publish_ms, 50):.0f} ms"
        f", max {max(publish_ms):.0f} ms"
    )
    print("until every client had it, per update (ms):", " ".join(f"{x:.0f}" for x in all_have))
    print(
        "publish, per update (ms):",
        " ".join(f"{x:.0f}" for x in publish_ms),
        f"(untimed warm-up publish before them: {warmup_ms:.0f} ms)",
    )
    print(f"missing messages {missing}, connect/auth errors {connect_errors}")
    print(f"mass disconnect of all clients: {close_s:.1f} s, server errors {len(server_errors)}")
    for line in server_errors[:5]:
        print("   ", line[:200])
    print(
        f"daphne RSS: idle {rss_idle:.0f} MB, connected {rss_connected:.0f} MB, "
        f"after updates {rss_peak:.0f} MB"
    )
    return 0 if not (server_errors or connect_errors or missing) else 1


if __name__ == "__main__":
    sys.exit(main())

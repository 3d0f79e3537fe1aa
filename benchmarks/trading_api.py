"""Trading API throughput, served as in production.

What it does, in one run:
1. prepares its own PostgreSQL database (``dtx_bench_trading``, migrated) and
   Redis DB 9: fresh prices, funded reserves, N pre-funded verified users
   with JWT access tokens, and the table of the minimal transfer endpoint;
2. starts gunicorn, sync workers x4, DEBUG off, a generated SECRET_KEY
   (settings ``benchmarks.trading_settings`` = production + one bench route);
3. N concurrent API clients (threads) for DURATION seconds, each cycling
   buy BTC with its USD balance / sell BTC to its balance / buy SOL paying
   with ETH (the ``crypto`` method); prints completed trades/s, p50/p99
   latency and the error count;
4. the same N clients against ``POST /bench/transfer`` and then
   ``/bench/transfer-orm`` (the same transfer through the ORM) (one locked
   two-account transfer in a minimal Django view, same gunicorn): the ceiling;
5. pgbench tpcb-like on a scratch database for ~10 s: the database ceiling;
6. the ratios, then ``manage.py reconcile_ledger`` on the benchmark database.

Run (PostgreSQL and Redis on localhost, from the repository root):

    .venv/bin/python benchmarks/trading_api.py            # 32 clients, 30 s
    .venv/bin/python benchmarks/trading_api.py -c 16 -d 10

Prices: the run refreshes the simulated feed once and sets
PRICE_MAX_AGE_SECONDS and QUOTE_PRICE_MAX_AGE_SECONDS to 3600 so no beat
process competes for the 2 CPUs; the trading throttle is lifted
(THROTTLE_TRADING) so clients are not rate-limited.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
GUNICORN = str(VENV_BIN / "gunicorn") if (VENV_BIN / "gunicorn").exists() else "gunicorn"
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
PSQL = shutil.which("psql") or "/usr/bin/psql"
PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"


def bench_env(args) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        DATABASE_URL=f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{args.db}",
        REDIS_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
        SECRET_KEY=secrets.token_urlsafe(48),
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",  # plain HTTP on 127.0.0.1, no proxy in front
        DJANGO_SETTINGS_MODULE=(
            "benchmarks.trading_settings_no_metrics"
            if args.without_metrics
            else "benchmarks.trading_settings"
        ),
        THROTTLE_TRADING="1000000/min",
        PRICE_MAX_AGE_SECONDS="3600",
        # Quotes and trades are priced only from prices this fresh: one
        # refresh at the start must last the run.
        QUOTE_PRICE_MAX_AGE_SECONDS="3600",
        # The buy limits are checked on every trade as in production, set
        # high enough that back-to-back runs on one database never reach them.
        LIMIT_TIER1_BUY_DAILY_UGX="1000000000000000",
        LIMIT_TIER1_BUY_MONTHLY_UGX="1000000000000000",
        JWT_ACCESS_MINUTES="60",
        CACHE_KEY_PREFIX="dtxbench",
        PYTHONPATH=str(ROOT),
    )
    return env


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(  # noqa: S603
        [PSQL, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", db, "-qc", sql],
        check=True,
        capture_output=True,
    )


def ensure_database(name: str) -> None:
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 - our own name
    out = subprocess.run(  # noqa: S603
        [
            PSQL,
            "-h",
            PG["host"],
            "-p",
            PG["port"],
            "-U",
            PG["user"],
            "-d",
            "postgres",
            "-tAc",
            query,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    if out.stdout.strip() != "1":
        psql(f'CREATE DATABASE "{name}"')


# --- step 1: prepare (runs in a child process with the bench environment) -------


def prepare(clients: int) -> None:
    import django

    django.setup()
    from decimal import Decimal

    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from ledger.models import AccountKind
    from ledger.services import house_account, ledger_post, reserve_fund, wallet_account
    from trading.services.prices import prices_refresh

    call_command("migrate", verbosity=0)
    cache.clear()  # Redis DB of the benchmark only
    prices_refresh()
    for code, amount in {
        "BTC": "10000",
        "ETH": "1000000",
        "SOL": "100000000",
        "TRX": "100000000000",
        "USD": "10000000000",
        "UGX": "10000000000000",
    }.items():
        reserve_fund(currency=code, amount=Decimal(amount), actor="bench")
    tokens = []
    for i in range(clients):
        user, _ = User.objects.get_or_create(
            email=f"bench{i}@bench.test", defaults={"email_verified_at": timezone.now()}
        )
        for code, amount in {"USD": "1000000", "BTC": "100", "ETH": "10000"}.items():
            ledger_post(
                kind="adjustment",
                idempotency_key=f"bench:{user.pk}:{code}:{secrets.token_hex(8)}",
                entries=[
                    (house_account(kind=AccountKind.EQUITY, currency=code), -Decimal(amount)),
                    (wallet_account(user=user, currency=code), Decimal(amount)),
                ],
                actor="bench",
            )
        tokens.append(str(AccessToken.for_user(user)))
    with connection.cursor() as cur:
        # Earlier runs without a worker left their events undelivered: start
        # each run with an empty outbox, so --worker measures this run's.
        cur.execute("TRUNCATE notifications_outboxdelivery, notifications_outboxevent")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_transfer_account "
            "(id integer PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))"
        )
        cur.execute("TRUNCATE bench_transfer_account")
        cur.execute(
            "INSERT INTO bench_transfer_account SELECT g, 1000000000 "
            "FROM generate_series(0, %s) AS g",
            [2 * clients],
        )
    print("TOKENS " + json.dumps(tokens))


# --- step 2: gunicorn ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    proc = subprocess.Popen(  # noqa: S603
        [
            GUNICORN,
            "-w",
            str(workers),
            "-k",
            "sync",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "dtexchange.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
        try:
            status, _ = request(port, "GET", "/healthz", None, None)
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not come up in 60 s")


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """A Celery worker as in production (prefork, 2 processes), so the
    outbox's events are delivered while the API is under load."""
    log = log_path.open("w")
    return subprocess.Popen(  # noqa: S603
        [PY, "-m", "celery", "-A", "dtexchange", "worker", "-l", "warning", "-c", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def outbox_backlog(db: str) -> tuple[int, int]:
    """(pending deliveries, delivered deliveries) in the benchmark database."""
    out = subprocess.run(  # noqa: S603
        [PSQL, "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", db, "-tAc",
         "SELECT count(*) FILTER (WHERE status = 'pending'), "
         "count(*) FILTER (WHERE status = 'delivered') FROM notifications_outboxdelivery"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    pending, delivered = out.split("|")
    return int(pending), int(delivered)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- steps 3 and 4: load -----------------------------------------------------------------


def request(port: int, method: str, path: str, body: bytes | None, token: str | None):
    """One HTTP/1.1 request on a new connection (gunicorn's sync workers
    close each one), written straight to a socket: http.client cost the
    load generator several times more CPU, taken from the server under test
    on these two cores. Returns (status, body)."""
    body = body or b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    raw = b"".join(chunks)
    if not raw.startswith(b"HTTP/1."):
        raise OSError(f"not an HTTP response: {raw[:60]!r}")
    _head, _, payload = raw.partition(b"\r\n\r\n")
    return int(raw[9:12]), payload


TRADES = [
    ("/api/trading/buy", {"crypto_currency": "BTC", "fiat_currency": "USD", "amount": "20.00",
                          "payment_method": "balance"}),
    ("/api/trading/sell", {"crypto_currency": "BTC", "fiat_currency": "USD", "amount": "0.0002",
                           "payment_method": "balance"}),
    ("/api/trading/buy", {"crypto_currency": "SOL", "fiat_currency": "USD", "amount": "0.01",
                          "payment_method": "crypto", "payment_details": {"from_currency": "ETH"}}),
]  # fmt: skip
TRADE_BODIES = [(path, json.dumps(body).encode()) for path, body in TRADES]


class Load:
    def __init__(self):
        self.latencies: list[float] = []
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def record(self, ok: bool, seconds: float, what: str = "") -> None:
        with self.lock:
            self.latencies.append(seconds)
            if ok:
                self.ok += 1
            else:
                self.errors[what] = self.errors.get(what, 0) + 1


def run_load(port, clients, seconds, make_request, warmup: float = 2.0) -> tuple[Load, float]:
    """Every client loops until the end; only requests started after the
    warm-up count."""
    load = Load()
    start_at = time.perf_counter() + warmup
    end_at = start_at + seconds

    def client(i: int) -> None:
        k = i
        while True:
            now = time.perf_counter()
            if now >= end_at:
                return
            method, path, body, token, check = make_request(i, k)
            k += 1
            t0 = time.perf_counter()
            try:
                status, data = request(port, method, path, body, token)
                ok, what = check(status, data)
            except OSError as exc:
                ok, what = False, type(exc).__name__
            if t0 >= start_at:
                load.record(ok, time.perf_counter() - t0, what)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return load, seconds


def summarize(name: str, load: Load, seconds: float) -> dict:
    lat = sorted(load.latencies) or [0.0]
    p = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return {
        "name": name,
        "per_second": load.ok / seconds,
        "ok": load.ok,
        "errors": sum(load.errors.values()),
        "error_kinds": load.errors,
        "p50_ms": p[49] * 1000,
        "p99_ms": p[98] * 1000,
    }


def wait_for_outbox(db: str, limit: float = 120.0) -> tuple[int, float | None, int]:
    """After the load: how many deliveries were still pending, and how long
    the worker took to deliver them all."""
    pending_at_end, _ = outbox_backlog(db)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        pending, delivered = outbox_backlog(db)
        if pending == 0:
            return pending_at_end, time.monotonic() - t0, delivered
        time.sleep(0.5)
    return pending_at_end, None, outbox_backlog(db)[1]


# --- step 5: pgbench ---------------------------------------------------------------------


def pgbench(db: str, clients: int, seconds: int, scale: int) -> float:
    psql(f'DROP DATABASE IF EXISTS "{db}"')
    psql(f'CREATE DATABASE "{db}"')
    base = ["-h", PG["host"], "-p", PG["port"], "-U", PG["user"]]
    subprocess.run(  # noqa: S603
        [PGBENCH, *base, "-i", "-q", "-s", str(scale), db], check=True, capture_output=True
    )
    out = subprocess.run(  # noqa: S603
        [PGBENCH, *base, "-c", str(clients), "-j", "2", "-T", str(seconds), db],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    psql(f'DROP DATABASE IF EXISTS "{db}"')
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if not match:
        raise SystemExit(f"could not read pgbench's output:\n{out}")
    return float(match.group(1))


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--clients", type=int, default=32)
    parser.add_argument("-d", "--duration", type=int, default=30, help="seconds of trading")
    parser.add_argument("--transfer-duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--pgbench-scale", type=int, default=8)
    parser.add_argument("--db", default="dtx_bench_trading")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument(
        "--worker",
        action="store_true",
        help="also run a Celery worker (2 processes) that delivers the outbox's events "
        "(live + email, written as .eml files to a scratch folder) during the load",
    )
    parser.add_argument(
        "--without-metrics",
        action="store_true",
        help="serve without the HTTP and database metrics (benchmarks/"
        "trading_settings_no_metrics.py), to measure their overhead",
    )
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.prepare is not None:
        prepare(args.prepare)
        return 0

    env = bench_env(args)
    ensure_database(args.db)
    print(f"preparing {args.db} (migrate, prices, reserves, {args.clients} users) ...", flush=True)
    prep = subprocess.run(  # noqa: S603
        [
            PY,
            __file__,
            "--prepare",
            str(args.clients),
            "--db",
            args.db,
            "--redis-db",
            str(args.redis_db),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if prep.returncode != 0:
        raise SystemExit(prep.stderr[-3000:])
    tokens = json.loads(prep.stdout.split("TOKENS ", 1)[1])

    port = free_port()
    log_path = ROOT / "var" / "bench-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    server = start_gunicorn(env, port, args.workers, log_path)
    worker = None
    if args.worker:
        env["DTX_VAR_DIR"] = tempfile.mkdtemp(prefix="dtx-bench-var-")  # its .eml files
        worker = start_worker(env, log_path.with_name("bench-worker.log"))
    drain = None
    try:
        print(f"gunicorn sync x{args.workers} on :{port}; {args.clients} clients", flush=True)

        def trade_request(i, k):
            path, body = TRADE_BODIES[k % len(TRADE_BODIES)]

            def check(status, data):
                if status == 201 and b'"status":"completed"' in data:
                    return True, ""
                return False, f"{status} {data[:120]!r}"

            return "POST", path, body, tokens[i], check

        trading, secs = run_load(port, args.clients, args.duration, trade_request)
        trades = summarize("trading API (buy/sell/swap)", trading, secs)
        if worker is not None:
            drain = wait_for_outbox(args.db)

        def transfer_request(i, k):
            a, b = 2 * i, 2 * i + 1
            src, dst = (a, b) if k % 2 else (b, a)
            body = json.dumps({"from": src, "to": dst}).encode()

            def check(status, data):
                return status == 200, f"{status}"

            return "POST", "/bench/transfer", body, None, check

        transfer_load, secs = run_load(port, args.clients, args.transfer_duration, transfer_request)
        transfer = summarize("minimal locked transfer", transfer_load, secs)

        def transfer_orm_request(i, k):
            method, _path, body, token, check = transfer_request(i, k)
            return method, "/bench/transfer-orm", body, token, check

        orm_load, secs = run_load(port, args.clients, args.transfer_duration, transfer_orm_request)
        transfer_orm = summarize("same transfer through the ORM", orm_load, secs)
    finally:
        stop(server)
        if worker is not None:
            stop(worker)

    print(f"pgbench tpcb-like ({args.pgbench_clients} clients, {args.pgbench_seconds} s) ...",
          flush=True)  # fmt: skip
    tps = pgbench("dtx_bench_pgbench", args.pgbench_clients, args.pgbench_seconds,
                  args.pgbench_scale)  # fmt: skip

    reconcile = subprocess.run(  # noqa: S603
        [PY, "manage.py", "reconcile_ledger"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    print()
    for r in (trades, transfer, transfer_orm):
        print(
            f"{r['name']:<30} {r['per_second']:8.1f} /s   p50 {r['p50_ms']:6.1f} ms   "
            f"p99 {r['p99_ms']:6.1f} ms   ok {r['ok']}   errors {r['errors']}"
        )
        for what, n in list(r["error_kinds"].items())[:5]:
            print(f"    {n} x {what}")
    if drain is not None:
        pending_at_end, seconds, delivered = drain
        print(
            f"outbox (worker on): {pending_at_end} deliveries pending when the load stopped, "
            f"all delivered {seconds:.1f} s later ({delivered} delivered in all)"
            if seconds is not None
            else f"outbox (worker on): {pending_at_end} pending at the end, NOT drained in 120 s"
        )
    print(f"{'pgbench tpcb-like':<30} {tps:8.1f} TPS")
    print(
        f"ratios: trades/s / transfer req/s = {trades['per_second'] / transfer['per_second']:.2f}"
        f" (ORM transfer: {trades['per_second'] / transfer_orm['per_second']:.2f});"
        f" trades/s / pgbench TPS = {trades['per_second'] / tps:.3f}"
    )
    target = trades["per_second"] >= 300 and trades["p99_ms"] <= 150 and trades["errors"] == 0
    print(f"target (>= 300 trades/s, p99 <= 150 ms, 0 errors): {'met' if target else 'NOT met'}")
    print("reconcile_ledger:", "ok" if reconcile.returncode == 0 else "FAILED")
    print((reconcile.stdout + reconcile.stderr).strip()[-1500:])
    return 0 if reconcile.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

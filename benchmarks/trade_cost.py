"""CPU cost of one trade request, split between Django and PostgreSQL.

The throughput benchmark (trading_api.py) needs an idle machine to be
comparable between runs; this one measures CPU time, which other load on the
host barely changes, so two versions of the code can be compared on a busy
machine. In one process, with the production settings of trading_api.py
(PostgreSQL, Redis, DEBUG off), it sends the benchmark's three trades in turn
(buy BTC with the USD balance, sell BTC to the balance, buy SOL paying ETH)
through ``django.test.Client`` with a JWT — the whole middleware, DRF, service
and database path, without gunicorn and HTTP parsing — and reads:

* this process's CPU time (``time.process_time``): Django + drivers;
* the CPU time of this connection's PostgreSQL backend (``/proc/<pid>/stat``
  of ``pg_backend_pid()``; PostgreSQL must run on this host).

Run (from the repository root):

    .venv/bin/python benchmarks/trade_cost.py                # 7 rounds of 300 trades
    .venv/bin/python benchmarks/trade_cost.py --profile /tmp/trade.prof
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import trading_api

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--trades", type=int, default=300, help="trades per round")
    parser.add_argument("-r", "--rounds", type=int, default=7)
    parser.add_argument("--profile", default="", help="write a cProfile of one round here")
    parser.add_argument("--db", default="dtx_bench_trading")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument(
        "--without-metrics", action="store_true", help="as trading_api.py: no Prometheus"
    )
    args = parser.parse_args()

    os.environ.update(trading_api.bench_env(args))
    trading_api.ensure_database(args.db)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    trading_api.prepare(1)  # migrate, prices, reserves, one funded user (prints its token)
    token = str(AccessToken.for_user(User.objects.get(email="bench0@bench.test")))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    bodies = trading_api.TRADE_BODIES

    def trade(k: int) -> None:
        path, body = bodies[k % len(bodies)]
        r = client.post(path, body, content_type="application/json")
        if r.status_code != 201 or r.json()["status"] != "completed":
            raise SystemExit(f"trade failed: {r.status_code} {r.content[:300]!r}")

    for k in range(60):  # warm-up: imports, caches, the connection
        trade(k)
    # Django keeps the connection between requests (CONN_MAX_AGE), so every
    # trade below runs on this backend.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    django_ms, pg_ms = [], []
    for _ in range(args.rounds):
        cpu0, pg0 = time.process_time(), backend_cpu_seconds(backend)
        for k in range(args.trades):
            trade(k)
        cpu1, pg1 = time.process_time(), backend_cpu_seconds(backend)
        django_ms.append((cpu1 - cpu0) * 1000 / args.trades)
        pg_ms.append((pg1 - pg0) * 1000 / args.trades)
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(lambda: [trade(k) for k in range(args.trades)])
        profiler.dump_stats(args.profile)

    print(f"CPU per trade, {args.rounds} rounds of {args.trades} (buy/balance, sell, swap in turn)")
    for name, values in (("Django (this process)", django_ms), ("PostgreSQL backend", pg_ms)):
        print(
            f"  {name:<24} best {min(values):5.2f} ms   median {statistics.median(values):5.2f} ms"
        )
    total = [a + b for a, b in zip(django_ms, pg_ms, strict=True)]
    print(
        f"  {'together':<24} best {min(total):5.2f} ms   median {statistics.median(total):5.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wallet withdrawals under contention, served as in production.

32 users (``-u``), each with a UGX balance that covers ``--covered`` of the
withdrawals asked for it; every user's requests come from ``--threads-per-user``
client threads at once (so requests of one user race each other on its
wallet lock), each thread asking ``--per-thread`` withdrawals of 10,000 UGX to
a bank account through ``POST /api/wallet/withdrawals`` (gunicorn, sync
workers x4). Exactly the covered ones must answer 201 and the rest 409
``insufficient_balance``; afterwards every balance must be exactly 0, the
withdrawal-hold account must hold exactly what was accepted, and
``reconcile_ledger`` must pass. Prints the request rate and p50/p99.

Run (PostgreSQL and Redis on localhost, from the repository root):

    .venv/bin/python benchmarks/wallet_withdrawals.py

Limits are set high for the run (tier 1 daily/monthly withdrawal limits and
the hourly count): this measures the money lock, not the limits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trading_api import (
    PY,
    ROOT,
    bench_env,
    ensure_database,
    free_port,
    psql,
    request,
    start_gunicorn,
    stop,
)

AMOUNT = 10_000
BANK = {"bank_name": "Stanbic", "account_name": "Bench", "account_number": "9030012345"}


def prepare(users: int, covered: int) -> None:
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.core.cache import cache
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from ledger.models import AccountKind
    from ledger.services import house_account, ledger_post, wallet_account

    call_command("migrate", verbosity=0)
    cache.clear()
    tokens = []
    for i in range(users):
        user, _ = User.objects.get_or_create(
            email=f"withdraw{i}@bench.test", defaults={"email_verified_at": timezone.now()}
        )
        user.set_password(f"bench-{i}-pass")
        user.save()
        # Out of the cooling-off after a password change.
        User.objects.filter(pk=user.pk).update(
            password_changed_at=timezone.now() - timedelta(days=2)
        )
        wallet = wallet_account(user=user, currency="UGX")
        wallet.refresh_from_db()
        top_up = Decimal(AMOUNT * covered) - wallet.balance
        if top_up:
            ledger_post(
                kind="adjustment",
                idempotency_key=f"bench:withdraw:{user.pk}:{uuid.uuid4().hex}",
                entries=[
                    (house_account(kind=AccountKind.EQUITY, currency="UGX"), -top_up),
                    (wallet, top_up),
                ],
                actor="bench",
            )
        tokens.append(str(AccessToken.for_user(user)))
    print("TOKENS " + json.dumps(tokens))


def check(db_env: dict, users: int, covered: int, accepted: int) -> None:
    """Balances, the hold account and reconcile, read in a child process."""
    code = f"""
import django; django.setup()
from decimal import Decimal
from ledger.models import AccountKind, LedgerAccount
wallets = LedgerAccount.objects.filter(kind=AccountKind.USER_WALLET, currency="UGX",
                                       owner__email__endswith="@bench.test",
                                       owner__email__startswith="withdraw")
assert wallets.count() == {users}, wallets.count()
left = sorted({{w.balance for w in wallets}})
hold = LedgerAccount.objects.get(kind=AccountKind.WITHDRAWAL_HOLD, currency="UGX", owner=None)
print("BALANCES", left, "HOLD", hold.balance)
assert left == [Decimal(0)], left
assert hold.balance == Decimal({AMOUNT} * {accepted}), hold.balance
"""
    subprocess.run([PY, "-c", code], cwd=ROOT, env=db_env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [PY, "manage.py", "reconcile_ledger"], cwd=ROOT, env=db_env, check=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-u", "--users", type=int, default=32)
    parser.add_argument("--covered", type=int, default=5, help="withdrawals each balance covers")
    parser.add_argument("--threads-per-user", type=int, default=2)
    parser.add_argument("--per-thread", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--db", default="dtx_bench_wallet")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.without_metrics = False

    env = bench_env(args)
    env.update(
        LIMIT_TIER1_WITHDRAWAL_DAILY_UGX="100000000000",
        LIMIT_TIER1_WITHDRAWAL_MONTHLY_UGX="100000000000",
        LIMIT_TIER1_WITHDRAWALS_PER_HOUR="100000",
        THROTTLE_WITHDRAWALS="1000000/min",
    )
    if args.prepare:
        prepare(args.users, args.covered)
        return 0

    psql(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')  # exact figures need a fresh ledger
    ensure_database(args.db)
    print(f"preparing {args.db} ({args.users} users) ...", flush=True)
    prep = subprocess.run(  # noqa: S603
        [PY, __file__, "--prepare", "-u", str(args.users), "--covered", str(args.covered),
         "--db", args.db, "--redis-db", str(args.redis_db)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if prep.returncode != 0:
        raise SystemExit(prep.stderr[-3000:])
    tokens = json.loads(prep.stdout.split("TOKENS ", 1)[1])

    port = free_port()
    log_path = ROOT / "var" / "bench-wallet-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    server = start_gunicorn(env, port, args.workers, log_path)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    body = json.dumps(
        {"currency": "UGX", "amount": str(AMOUNT), "method": "bank", "destination": BANK}
    ).encode()

    def client(user: int, thread: int) -> None:
        for _ in range(args.per_thread):
            t0 = time.perf_counter()
            status, data = request(port, "POST", "/api/wallet/withdrawals", body, tokens[user])
            seconds = time.perf_counter() - t0
            what = "201" if status == 201 else f"{status} {json.loads(data)['error']['code']}"
            with lock:
                latencies.append(seconds)
                outcomes[what] = outcomes.get(what, 0) + 1

    threads = [
        threading.Thread(target=client, args=(u, t))
        for u in range(args.users)
        for t in range(args.threads_per_user)
    ]
    try:
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        stop(server)

    asked = args.users * args.threads_per_user * args.per_thread
    accepted = outcomes.get("201", 0)
    expected = args.users * min(args.covered, args.threads_per_user * args.per_thread)
    q = statistics.quantiles(latencies, n=100)
    print(f"requests: {asked} in {elapsed:.1f} s = {asked / elapsed:.1f}/s")
    print(f"latency: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms")
    print(f"outcomes: {outcomes} (expected {expected} x 201)")
    ok = accepted == expected and outcomes.get("409 insufficient_balance", 0) == asked - expected
    check(env, args.users, args.covered, accepted)
    print("ledger: balances exact, hold exact, reconcile_ledger ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

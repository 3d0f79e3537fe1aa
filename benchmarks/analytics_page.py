"""The staff analytics page (/admin/analytics/) at 100,000 trades: how many
queries it makes and how long they and the whole page take, and whether
each query on trades or users uses an index.

    .venv/bin/python benchmarks/analytics_page.py [--trades 100000] [--users 5000] [--runs 7]

Fills a scratch database test_dtx_bench_analytics (override the base name
with DATABASE_URL; created and dropped by the run) with trades spread over
the last 365 days (``--days``) (about 85 % completed, the rest failed, expired, cancelled
or still in flight, over five payment methods and four coins) and users who
signed up over the same days, then opens the page as a signed-in admin for
the default period (30 days) and for the longest allowed (92 days).
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dtx_bench_analytics")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")

import django

django.setup()

from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

METHODS = ("mobile_money", "mobile_money", "voucher", "balance", "bank_deposit", "crypto")
COINS = ("BTC", "ETH", "SOL", "TRX")
STATUSES = ["completed"] * 85 + ["failed"] * 7 + ["expired"] * 4 + ["cancelled"] * 2
STATUSES += ["pending", "processing"]


def fill(*, trades: int, users: int, days: int) -> None:
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from trading.models import Trade

    rng = random.Random(14)
    unusable = make_password(None)
    now = timezone.now()
    people = User.objects.bulk_create(
        [
            User(
                email=f"bench{n}@example.test",
                password=unusable,
                date_joined=now - timedelta(seconds=rng.uniform(0, days * 86400)),
            )
            for n in range(users)
        ],
        batch_size=5000,
    )
    batch = []
    for n in range(trades):
        user = people[n % len(people)]
        since_joined = (now - user.date_joined).total_seconds()
        created = user.date_joined + timedelta(seconds=rng.uniform(0, since_joined))
        status = rng.choice(STATUSES)
        fiat = Decimal(rng.randrange(5_000, 2_000_000, 500))
        batch.append(
            Trade(
                user=user,
                trade_type=rng.choice(("buy", "buy", "sell")),
                crypto_currency=rng.choice(COINS),
                fiat_currency="UGX",
                crypto_amount=Decimal("0.001"),
                fiat_amount=fiat,
                fee_amount=(fiat / 100).quantize(Decimal(1)),
                fee_rate=Decimal("0.01"),
                exchange_rate=Decimal("380000000"),
                payment_method=rng.choice(METHODS),
                status=status,
                created_at=created,
                updated_at=created,
                completed_at=created + timedelta(seconds=30) if status == "completed" else None,
            )
        )
        if len(batch) == 5000:
            Trade.objects.bulk_create(batch)
            batch = []
    Trade.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trading_trade")
        cursor.execute("ANALYZE accounts_user")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--days", type=int, default=365, help="days of history")
    args = parser.parse_args()

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.core.cache import cache

        from accounts.roles import ADMIN
        from tests.factories import UserFactory, set_prices
        from tests.staff import staff_sign_in

        cache.clear()
        set_prices()
        started = time.perf_counter()
        fill(trades=args.trades, users=args.users, days=args.days)
        print(
            f"filled {args.trades} trades, {args.users} users in "
            f"{time.perf_counter() - started:.0f} s"
        )
        client = staff_sign_in(Client(), UserFactory(roles=[ADMIN], is_staff=True))
        today = timezone.localdate()
        for days in (30, 92):
            params = {
                "start": (today - timedelta(days=days - 1)).isoformat(),
                "end": today.isoformat(),
            }
            assert client.get("/admin/analytics/", params).status_code == 200  # warm
            samples = []
            for _ in range(args.runs):
                with CaptureQueriesContext(connection) as queries:
                    start = time.perf_counter()
                    response = client.get("/admin/analytics/", params)
                    samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            # The session, the user and their roles are the admin's own; the
            # rest are the page's figures.
            print(
                f"\nperiod {days} days: {len(queries)} queries; page median "
                f"{statistics.median(samples):.0f} ms, best {min(samples):.0f} ms "
                f"({args.runs} runs)"
            )
            for q in queries.captured_queries:
                sql = q["sql"]
                table = next(
                    (
                        t
                        for t in (
                            "trading_trade",
                            "accounts_user",
                            "payments_",
                            "notifications_",
                            "django_session",
                            "otp_",
                            "auth_group",
                        )
                        if t in sql
                    ),
                    "other",
                )
                print(f"  {float(q['time']) * 1000:7.1f} ms  {table:22} {sql[:70]}")
        # Whether the figures' queries use indexes, by EXPLAIN of each one.
        from operations.selectors import Period, analytics_get

        for days in (30, 92):
            with CaptureQueriesContext(connection) as queries:
                analytics_get(period=Period(today - timedelta(days=days - 1), today))
            print(f"\nplans, period {days} days:")
            for q in queries.captured_queries:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN " + q["sql"])
                    plan = " ".join(row[0] for row in cursor.fetchall())
                big = ("trading_trade", "accounts_user")
                scans = [t for t in big if f"Seq Scan on {t}" in plan]
                shown = "SEQ SCAN " + ",".join(scans) if scans else "indexed"
                print(f"  {shown:24} {q['sql'][:80]}")
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

"""Server time of the customer site's pages with a long history (the aim:
≤ 50 ms with 10,000 trades). The query-count guard is a test
(tests/site/test_page_speed.py); the time is measured here, not asserted in
the suite, because wall-clock limits in tests flake on a loaded machine.

    .venv/bin/python benchmarks/site_pages.py [--trades 10000] [--runs 21]

Uses a scratch database test_dtx_bench_site (override the base name with
DATABASE_URL), created and dropped by the run.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dtx_bench_site")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

PAGES = ("/dashboard/", "/trades/", "/trades/?status=completed&page=3", "/")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.core.cache import cache

        from tests.factories import UserFactory, fund_wallet, set_prices
        from tests.site.test_page_speed import _bulk

        cache.clear()
        set_prices()
        user = UserFactory()
        fund_wallet(user, "UGX", "100000")
        _bulk(user, args.trades)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE trading_trade")
        client = Client()
        client.force_login(user)
        print(f"{args.trades} trades, {args.runs} runs per page, server time in ms")
        print(f"{'page':40} {'best':>7} {'median':>7} {'p95':>7}")
        for path in PAGES:
            client.get(path)  # warm caches and template loading
            samples = []
            for _ in range(args.runs):
                start = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            samples.sort()
            p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
            print(f"{path:40} {samples[0]:7.1f} {statistics.median(samples):7.1f} {p95:7.1f}")
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

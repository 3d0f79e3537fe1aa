"""History and dashboard stay cheap with a long history: a fixed number of
queries with 10,000 trades. Their server time is measured by
benchmarks/site_pages.py, not asserted here (wall-clock limits flake)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import fund_wallet
from trading.models import Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]

PAGES = ("/dashboard/", "/trades/", "/trades/?status=completed&page=3", "/")


def _bulk(user, n: int) -> None:
    now = timezone.now()
    Trade.objects.bulk_create(
        (
            Trade(
                user=user,
                trade_type="buy" if i % 4 else "sell",
                crypto_currency=("BTC", "ETH", "SOL", "TRX")[i % 4],
                fiat_currency="UGX",
                crypto_amount=Decimal("0.001"),
                fiat_amount=Decimal("360000"),
                fee_amount=Decimal("1800"),
                fee_rate=Decimal("0.005"),
                exchange_rate=Decimal("360000000"),
                payment_method="balance",
                status=("completed", "pending", "failed")[i % 3],
                created_at=now - timezone.timedelta(seconds=i),
                updated_at=now,
            )
            for i in range(n)
        ),
        batch_size=2000,
    )


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_queries_do_not_grow_with_the_history(signed_in, customer, django_assert_max_num_queries):
    fund_wallet(customer, "UGX", "100000")
    _bulk(customer, 3)
    few = {path: _queries(signed_in, path) for path in PAGES}
    _bulk(customer, 10_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE trading_trade")
    for path in PAGES:
        with django_assert_max_num_queries(few[path]):
            signed_in.get(path)
        assert few[path] <= 8, (path, few[path])

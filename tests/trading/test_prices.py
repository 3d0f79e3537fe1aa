"""Prices: the simulated feed, the HTTP provider against a real local stub
server, the cached snapshot, price.updated events, staleness."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from freezegun import freeze_time

from notifications.models import OutboxEvent
from tests.factories import TEST_PRICES, FixedPriceProvider, fund_wallet, ledger_rows, set_prices
from trading.services.prices import (
    SIMULATED_BAND,
    SIMULATED_BASE_USD,
    SimulatedPriceProvider,
    prices_refresh,
    prices_snapshot,
)
from trading.tasks import prices_refresh_task

D = Decimal
pytestmark = pytest.mark.django_db


def test_simulated_walk_stays_in_its_band_and_is_marked_simulated():
    provider = SimulatedPriceProvider(seed=7)
    pairs = provider.fetch(previous={})
    assert pairs[("BTC", "USD")] == D("97000")
    assert pairs[("BTC", "UGX")] == D("97000") * 3600
    for _ in range(2000):
        pairs = provider.fetch(previous=pairs)
    for code, base in SIMULATED_BASE_USD.items():
        assert base * (1 - SIMULATED_BAND) <= pairs[(code, "USD")] <= base * (1 + SIMULATED_BAND)
    assert pairs[("ETH", "UGX")] / pairs[("ETH", "USD")] > 3000
    assert provider.name == "simulated"


def test_refresh_caches_all_pairs_and_emits_price_updated_per_changed_pair():
    set_prices()
    assert OutboxEvent.objects.filter(kind="price.updated").count() == 8
    snap = prices_snapshot()
    assert snap[("BTC", "USD")].price == D("100000")
    OutboxEvent.objects.all().delete()

    changed = prices_refresh(provider=FixedPriceProvider({**TEST_PRICES, ("BTC", "USD"): "101000"}))
    assert [(p.crypto, p.fiat) for p in changed] == [("BTC", "USD")]
    event = OutboxEvent.objects.get(kind="price.updated")
    assert event.user_id is None
    assert event.payload["crypto"] == "BTC" and event.payload["fiat"] == "USD"
    assert event.payload["price"] == "101000" and event.payload["change"] == "1.0000"
    assert event.payload["source"] == "fixed" and event.payload["at"]


def test_first_request_fetches_synchronously_with_the_simulated_feed(anon):
    assert prices_snapshot() == {}
    r = anon.get("/api/trading/prices")
    assert r.status_code == 200
    rows = r.json()["prices"]
    assert len(rows) == 8
    assert {row["source"] for row in rows} == {"simulated"}
    r = anon.get("/api/trading/prices?crypto=ETH&fiat=UGX")
    assert r.json()["crypto"] == "ETH" and r.json()["fiat"] == "UGX"


@pytest.mark.parametrize(
    "query",
    [
        "crypto=DOGE&fiat=USD",
        "crypto=USD&fiat=BTC",
        "crypto=DOGE",
        "fiat=EUR",
        # Codes are exactly as the schema's enums list them.
        "crypto=eth&fiat=ugx",
        "fiat=",
    ],
)
def test_prices_bad_pair_is_400(anon, query):
    r = anon.get(f"/api/trading/prices?{query}")
    assert r.status_code == 400
    assert r.json()["error"]["code"] in {"unknown_currency", "invalid_currency_pair"}


def test_stale_price_refuses_trading_with_409(api, customer, reserves):
    fund_wallet(customer, "USD", "100.00")
    with freeze_time() as clock:
        set_prices()
        clock.tick(timedelta(seconds=61))
        before = ledger_rows()
        r = api.post(
            "/api/trading/buy",
            {
                "crypto_currency": "BTC",
                "fiat_currency": "USD",
                "amount": "10.00",
                "payment_method": "balance",
            },
            format="json",
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "stale_price"
        assert ledger_rows() == before
        q = api.post(
            "/api/trading/calculate",
            {
                "crypto_currency": "BTC",
                "fiat_currency": "USD",
                "amount": "10",
                "trade_type": "buy",
                "payment_method": "balance",
            },
            format="json",
        )
        assert q.status_code == 409
        p = api.get("/api/trading/prices?crypto=BTC&fiat=USD")
        assert p.status_code == 200 and p.json()["stale"] is True


def test_refresh_task_survives_a_failing_provider():
    set_prices()
    with override_settings(
        PRICE_PROVIDER="http",
        PRICE_HTTP_URL="http://127.0.0.1:9/x",
        PRICE_HTTP_RETRIES=0,
        PRICE_HTTP_TIMEOUT_SECONDS=0.5,
    ):
        assert prices_refresh_task.delay() is not None
    assert prices_snapshot()[("BTC", "USD")].price == D("100000")


def test_beat_schedules_the_refresh():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["trading-prices-refresh"]
    assert entry["task"] == "trading.tasks.prices_refresh_task"
    assert entry["schedule"] == settings.PRICE_REFRESH_SECONDS


def test_each_process_keeps_its_copy_of_the_snapshot_briefly(settings):
    """prices_snapshot keeps the decoded snapshot PRICE_LOCAL_CACHE_SECONDS;
    a refresh made here replaces it at once, one made elsewhere is seen
    when the copy runs out."""
    import time as _time

    from django.core.cache import cache

    from tests.factories import set_prices
    from trading.services import prices as prices_module

    settings.PRICE_LOCAL_CACHE_SECONDS = 2.0  # room for a slow CI host
    set_prices({("BTC", "USD"): "100000"})
    assert prices_snapshot()[("BTC", "USD")].price == D("100000")
    set_prices({("BTC", "USD"): "101000"})  # this process: seen at once
    assert prices_snapshot()[("BTC", "USD")].price == D("101000")
    # Another process (beat) writes the shared snapshot:
    raw = cache.get(prices_module.CACHE_KEY)
    for row in raw["pairs"]:
        if (row["crypto"], row["fiat"]) == ("BTC", "USD"):
            row["price"] = "102000"
    cache.set(prices_module.CACHE_KEY, raw)
    assert prices_snapshot()[("BTC", "USD")].price == D("101000")  # the copy, still fresh
    _time.sleep(2.1)
    assert prices_snapshot()[("BTC", "USD")].price == D("102000")
    # Callers get their own dict: changing it does not change the copy.
    prices_snapshot().clear()
    assert prices_snapshot()[("BTC", "USD")].price == D("102000")

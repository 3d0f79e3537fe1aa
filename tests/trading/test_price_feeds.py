"""PRICE_PROVIDER=http against local stand-ins of CoinGecko, Binance and
ExchangeRate-API speaking their documented shapes (tests/price_stubs.py):
UGX through the FX leg, both FX shapes, fallbacks, ages from the providers'
own timestamps, call budgets and 429 back-off, the refresh_prices command."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from freezegun import freeze_time

from tests.price_stubs import BinanceStub, CoinGeckoStub, ExchangeRateStub
from trading.services.price_feeds import CoinGeckoFeed
from trading.services.prices import (
    PriceProviderError,
    PriceUnavailable,
    StalePrice,
    price_get,
    prices_refresh,
    prices_snapshot,
)

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def feeds():
    with (
        CoinGeckoStub() as gecko,
        BinanceStub() as binance,
        ExchangeRateStub() as fx,
        ExchangeRateStub(ugx="3700") as fx2,
        override_settings(
            PRICE_PROVIDER="http",
            PRICE_HTTP_URL=gecko.url,
            PRICE_FALLBACK_URL=binance.url,
            FX_HTTP_URL=fx.url,
            FX_FALLBACK_URL=fx2.url,
            PRICE_HTTP_RETRIES=0,
            PRICE_HTTP_TIMEOUT_SECONDS=2.0,
        ),
    ):
        yield {"gecko": gecko, "binance": binance, "fx": fx, "fx2": fx2}


def test_ugx_is_priced_through_the_fx_leg_never_asked_of_coingecko(feeds):
    prices_refresh()
    snap = prices_snapshot()
    assert snap[("BTC", "USD")].price == D("97123.45")
    assert snap[("BTC", "USD")].source == "coingecko"
    assert snap[("BTC", "UGX")].price == D("97123.45") * D("3712.5")
    assert snap[("TRX", "UGX")].price == D("0.2498") * D("3712.5")
    assert snap[("BTC", "UGX")].source == "coingecko+127.0.0.1"
    ((path, _),) = feeds["gecko"].requests
    assert "vs_currencies=usd&" in path and "ugx" not in path.lower()
    assert "include_last_updated_at=true" in path
    assert feeds["fx"].requests[0][0] == "/v6/latest/USD"  # the keyless shape
    assert feeds["binance"].calls == 0 and feeds["fx2"].calls == 0


def test_ages_are_the_providers_own_timestamps_and_ugx_is_as_old_as_its_older_leg(feeds):
    now = int(time.time())
    feeds["gecko"].last_updated_at = now - 40
    feeds["fx"].updated = now - 5 * 3600
    prices_refresh()
    usd, ugx = price_get(crypto="ETH", fiat="USD"), price_get(crypto="ETH", fiat="UGX")
    assert usd.crypto_at == datetime.fromtimestamp(now - 40, tz=UTC)
    assert 39 <= usd.age_seconds() <= 45
    assert ugx.fx_at == datetime.fromtimestamp(now - 5 * 3600, tz=UTC)
    assert ugx.at == ugx.fx_at  # the older leg
    assert 5 * 3600 - 1 <= ugx.age_seconds() <= 5 * 3600 + 5
    # The FX leg has its own, longer, maximum age: 5 hours is fine, trading goes on.
    assert not ugx.is_stale()
    with override_settings(FX_MAX_AGE=timedelta(hours=4)):
        assert ugx.is_stale() and not usd.is_stale()
        with pytest.raises(StalePrice):
            price_get(crypto="ETH", fiat="UGX")
    # The crypto leg keeps the short one: 40 s old is stale under a 30 s maximum.
    with override_settings(PRICE_MAX_AGE=timedelta(seconds=30)):
        assert ugx.is_stale() and usd.is_stale()


def test_keyed_fx_shape_reads_conversion_rates(feeds):
    feeds["fx"].key = "k3y-123"
    with override_settings(FX_HTTP_API_KEY="k3y-123"):
        prices_refresh()
    assert feeds["fx"].requests[0][0] == "/v6/k3y-123/latest/USD"
    assert prices_snapshot()[("SOL", "UGX")].price == D("180.12") * D("3712.5")
    assert feeds["fx2"].calls == 0


@pytest.mark.parametrize("status", [200, 403])
@pytest.mark.parametrize("kind", ["invalid-key", "quota-reached", "unsupported-code"])
def test_fx_errors_with_or_without_an_error_status_use_the_fx_fallback(feeds, kind, status):
    feeds["fx"].mode, feeds["fx"].error_status = kind, status
    prices_refresh()
    ugx = prices_snapshot()[("BTC", "UGX")]
    assert ugx.price == D("97123.45") * D("3700")  # the fallback FX API's rate
    assert feeds["fx2"].calls == 1


def test_coingecko_down_uses_binance_usdt_as_usd(feeds):
    feeds["gecko"].mode = "500"
    prices_refresh()
    snap = prices_snapshot()
    assert snap[("BTC", "USD")].price == D("97200.10")
    assert snap[("BTC", "USD")].source == "binance"
    assert snap[("BTC", "UGX")].price == D("97200.10") * D("3712.5")
    path = feeds["binance"].requests[0][0]
    assert path.startswith("/api/v3/ticker/price?symbols=")
    assert "%22BTCUSDT%22" in path and "%22TRXUSDT%22" in path


def test_binance_errors_are_provider_errors_and_nothing_is_invented(feeds):
    feeds["gecko"].mode = "garbage"
    feeds["binance"].mode = "invalid_symbol"
    with pytest.raises(PriceProviderError):
        prices_refresh()
    assert prices_snapshot() == {}


def test_coingecko_is_called_within_its_plan_and_its_answer_reused_between_calls(feeds):
    with freeze_time() as clock:
        feeds["gecko"].last_updated_at = int(time.time()) - 10
        prices_refresh()
        for _ in range(5):
            clock.tick(timedelta(seconds=5))
            prices_refresh()
        assert feeds["gecko"].calls == 1  # once per ~260 s on the Demo plan's budget
        assert feeds["fx"].calls == 1  # once an hour
        assert feeds["binance"].calls == 0  # the reused answer is still fresh
        assert prices_snapshot()[("BTC", "USD")].source == "coingecko"
        # Once that answer would be too old to trade on, the fallback keeps prices fresh.
        clock.tick(timedelta(seconds=40))
        prices_refresh()
        assert feeds["gecko"].calls == 1 and feeds["binance"].calls == 1
        assert price_get(crypto="BTC", fiat="USD").source == "binance"
        clock.tick(timedelta(seconds=260))
        feeds["gecko"].last_updated_at = int(time.time()) - 10
        prices_refresh()
        assert feeds["gecko"].calls == 2
        assert price_get(crypto="BTC", fiat="USD").source == "coingecko"
        clock.tick(timedelta(hours=1, seconds=1))
        prices_refresh()
        assert feeds["fx"].calls == 2


def test_a_429_backs_off_for_its_retry_after(feeds):
    feeds["gecko"].mode = "429"
    feeds["gecko"].retry_after = "120"
    with freeze_time() as clock:
        prices_refresh()
        assert feeds["gecko"].calls == 1
        assert prices_snapshot()[("BTC", "USD")].source == "binance"
        feeds["gecko"].mode = "ok"
        clock.tick(timedelta(seconds=100))
        prices_refresh()
        assert feeds["gecko"].calls == 1  # still waiting out Retry-After
        clock.tick(timedelta(seconds=21))
        feeds["gecko"].last_updated_at = int(time.time()) - 5
        prices_refresh()
        assert feeds["gecko"].calls == 2
        assert prices_snapshot()[("BTC", "USD")].source == "coingecko"


def test_no_fx_at_all_still_prices_usd_and_ugx_waits(feeds):
    feeds["fx"].mode = feeds["fx2"].mode = "500"
    prices_refresh()
    assert price_get(crypto="BTC", fiat="USD").price == D("97123.45")
    with pytest.raises(PriceUnavailable):
        price_get(crypto="BTC", fiat="UGX")


def test_fx_down_later_keeps_the_last_rate_ageing_until_fx_max_age(feeds):
    with freeze_time() as clock:
        feeds["fx"].updated = int(time.time()) - 3600
        prices_refresh()
        feeds["fx"].mode = feeds["fx2"].mode = "quota-reached"
        clock.tick(timedelta(hours=2))
        feeds["gecko"].last_updated_at = int(time.time()) - 5
        prices_refresh()
        ugx = price_get(crypto="BTC", fiat="UGX")  # 3 h old: still tradeable
        assert 3 * 3600 - 1 <= ugx.age_seconds() <= 3 * 3600 + 1
        clock.tick(timedelta(hours=28))
        feeds["gecko"].last_updated_at = int(time.time()) - 5
        prices_refresh()
        with pytest.raises(StalePrice):
            price_get(crypto="BTC", fiat="UGX")
        assert not price_get(crypto="BTC", fiat="USD").is_stale()


def test_coingecko_key_headers():
    demo = CoinGeckoFeed(
        base_url="https://api.coingecko.com/api/v3", api_key="d", timeout=1, retries=0
    )
    pro = CoinGeckoFeed(
        base_url="https://pro-api.coingecko.com/api/v3", api_key="p", timeout=1, retries=0
    )
    assert demo.headers()["x-cg-demo-api-key"] == "d" and "x-cg-pro-api-key" not in demo.headers()
    assert pro.headers()["x-cg-pro-api-key"] == "p" and "x-cg-demo-api-key" not in pro.headers()


def test_the_demo_key_is_sent_to_the_api(feeds):
    with override_settings(PRICE_HTTP_API_KEY="CG-demo"):
        prices_refresh()
    headers = {k.lower(): v for k, v in feeds["gecko"].requests[0][1].items()}
    assert headers["x-cg-demo-api-key"] == "CG-demo"


def test_refresh_prices_command_prints_each_pair_source_and_age(feeds, capsys):
    feeds["gecko"].mode = "500"
    call_command("refresh_prices")
    out = capsys.readouterr().out
    assert "crypto: coingecko failed" in out and "crypto: binance answered" in out
    assert "fx: 127.0.0.1 answered" in out
    assert "BTC/USD" in out and "source=binance" in out
    assert "BTC/UGX" in out and "source=binance+127.0.0.1" in out
    assert "age=" in out and "STALE" not in out


def test_refresh_prices_command_fails_loudly_when_nothing_answers(feeds, capsys):
    feeds["gecko"].mode = "500"
    feeds["binance"].mode = "500"
    with pytest.raises(CommandError, match="could not be refreshed"):
        call_command("refresh_prices")
    assert "binance failed" in capsys.readouterr().out


def test_production_refuses_the_http_provider_without_a_fallback_per_leg(tmp_path):
    from tests.test_settings_profiles import GOOD_SECRET, _import_settings

    prod = {
        "DEBUG": "false",
        "SECRET_KEY": GOOD_SECRET,
        "DATABASE_URL": "postgres://dtx@db.internal:5432/dtx",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "PRICE_PROVIDER": "http",
        "PRICE_HTTP_URL": "https://api.coingecko.com/api/v3",
        "FX_HTTP_URL": "https://open.er-api.com",
    }
    result = _import_settings(tmp_path, **prod)
    assert result.returncode != 0
    assert "missing: PRICE_FALLBACK_URL, FX_FALLBACK_URL" in result.stderr
    result = _import_settings(
        tmp_path,
        **prod,
        PRICE_FALLBACK_URL="https://api.binance.com",
        FX_FALLBACK_URL="https://v6.exchangerate-api.com",
    )
    assert result.returncode == 0, result.stderr

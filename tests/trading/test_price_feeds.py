"""PRICE_PROVIDER=http against local stand-ins of CoinGecko, Binance and
ExchangeRate-API speaking their documented shapes (tests/price_stubs.py):
UGX through the FX leg, both FX shapes, fallbacks, ages from the providers'
own timestamps, call budgets and 429 back-off, the refresh_prices command."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings
from freezegun import freeze_time

from tests.price_stubs import BinanceStub, CoinGeckoStub, ExchangeRateStub
from trading.services.price_feeds import CoinGeckoFeed, backoff_seconds
from trading.services.prices import (
    PriceProviderError,
    PriceUnavailable,
    StalePrice,
    price_get,
    price_get_fresh,
    price_provider_get,
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
    with override_settings(PRICE_FALLBACK_URL=""):  # CoinGecko's 40 s old answer is all there is
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
@pytest.mark.parametrize(
    "kind", ["invalid-key", "inactive-account", "quota-reached", "unsupported-code"]
)
def test_fx_errors_with_or_without_an_error_status_use_the_fx_fallback(feeds, kind, status):
    feeds["fx"].key = "k3y-123"  # the keyed host: keys, quotas and their errors
    feeds["fx"].mode, feeds["fx"].error_status = kind, status
    with override_settings(FX_HTTP_API_KEY="k3y-123"):
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


def _quotable_until_the_next_tick(clock) -> None:
    """The crypto leg is fresh enough for a quote now and still is just
    before the next beat tick."""
    for pair in (("BTC", "USD"), ("ETH", "UGX")):
        price_get_fresh(crypto=pair[0], fiat=pair[1])
    clock.tick(timedelta(seconds=settings.PRICE_REFRESH_SECONDS - 0.1))
    price_get_fresh(crypto="BTC", fiat="USD")
    clock.tick(timedelta(seconds=0.1))


def test_every_tick_leaves_a_price_fresh_enough_for_a_quote_within_coingeckos_plan(feeds):
    """Beat every 5 s, quotes on prices up to 20 s old, CoinGecko's Demo plan
    (one call per ~260 s): CoinGecko's answer is used while it is under 15 s
    old, Binance prices the rest, and no moment of the cycle refuses a quote."""
    assert settings.PRICE_REFRESH_SECONDS == 5
    assert timedelta(seconds=20) == settings.QUOTE_PRICE_MAX_AGE
    # Each CoinGecko answer comes from its cache refreshed 3 s before the call.
    feeds["gecko"].last_updated_at = None
    with freeze_time() as clock:
        sources = []
        for _ in range(600 // settings.PRICE_REFRESH_SECONDS):  # ten minutes of beat
            prices_refresh()
            sources.append(prices_snapshot()[("BTC", "USD")].source)
            _quotable_until_the_next_tick(clock)
        # At 0, 260 and 520 s: 600 s / 259.2 s, the Demo plan's 10,000 calls a month.
        assert feeds["gecko"].calls == 3
        assert sources[:3] == ["coingecko"] * 3  # 3, 8, 13 s old: reused
        assert sources[3] == "binance"  # 18 s old would be 23 s at the next tick
        assert sources[52:55] == ["coingecko"] * 3  # CoinGecko's next turn, at 260 s
        assert feeds["binance"].calls == len(sources) - 9
        assert feeds["fx"].calls == 1  # once an hour


def test_a_coingecko_answer_already_too_old_for_a_quote_gives_way_to_binance(feeds):
    """CoinGecko caches /simple/price 60 s: a new call may bring a 40 s old price."""
    feeds["gecko"].last_updated_at = int(time.time()) - 40
    provider = price_provider_get()
    prices_refresh(provider=provider)
    assert feeds["gecko"].calls == 1 and feeds["binance"].calls == 1
    assert price_get_fresh(crypto="BTC", fiat="USD").source == "binance"
    assert "40 s old: too old to quote on" in " ".join(provider.report.lines)


def test_a_failing_provider_backs_off_exponentially_and_recovers(feeds):
    """CoinGecko answering 500: called after 10, 20, 40, 80 s... (at most
    PRICE_FEED_BACKOFF_MAX_SECONDS), not on every tick; Binance meanwhile."""
    feeds["gecko"].mode = "500"
    with freeze_time() as clock:
        for _ in range(36):  # three minutes of beat
            prices_refresh()
            clock.tick(timedelta(seconds=5))
        assert feeds["gecko"].calls == 5  # at 0, 10, 30, 70 and 150 s, not 36 times
        assert prices_snapshot()[("BTC", "USD")].source == "binance"
        feeds["gecko"].mode = "ok"
        clock.tick(timedelta(seconds=130))  # the fifth wait (160 s) is over at 310 s
        prices_refresh()
        assert feeds["gecko"].calls == 6
        assert prices_snapshot()[("BTC", "USD")].source == "coingecko"
    with override_settings(PRICE_FEED_BACKOFF_MAX_SECONDS=30):
        assert backoff_seconds(1, cap=30) == 10 and backoff_seconds(9, cap=30) == 30


def test_the_fallback_backs_off_too_and_the_last_price_ages_into_stale(feeds):
    with freeze_time() as clock:
        prices_refresh()  # CoinGecko, 3 s old
        feeds["binance"].mode = "500"
        for _ in range(20):
            clock.tick(timedelta(seconds=5))
            prices_refresh()
        # Binance asked from 15 s on: at 15, 25, 45 and 85 s, not 18 times.
        assert feeds["binance"].calls == 4
        assert feeds["gecko"].calls == 1  # its turn comes at ~260 s
        with pytest.raises(StalePrice):
            price_get(crypto="BTC", fiat="USD")


def test_a_429_backs_off_for_its_retry_after(feeds):
    feeds["gecko"].mode = "429"
    feeds["gecko"].retry_after = "120"  # CoinGecko promises none; when one comes, it is kept
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


def test_a_429_without_retry_after_waits_at_least_a_minute_then_doubles(feeds):
    feeds["gecko"].mode = "429"  # as CoinGecko documents it: no Retry-After promised
    with freeze_time() as clock:
        prices_refresh()
        clock.tick(timedelta(seconds=59))
        prices_refresh()
        assert feeds["gecko"].calls == 1
        clock.tick(timedelta(seconds=2))
        prices_refresh()
        assert feeds["gecko"].calls == 2
        clock.tick(timedelta(seconds=61))
        prices_refresh()
        assert feeds["gecko"].calls == 3
        clock.tick(timedelta(seconds=61))  # third wait: max(60, 10 * 2**2) = 60 s
        prices_refresh()
        assert feeds["gecko"].calls == 4


def test_binances_429_waits_its_retry_after(feeds):
    feeds["gecko"].mode = "500"
    feeds["binance"].mode = "429"
    feeds["binance"].retry_after = "90"
    with freeze_time() as clock:
        with pytest.raises(PriceProviderError):
            prices_refresh()
        for _ in range(17):  # 85 s
            clock.tick(timedelta(seconds=5))
            with pytest.raises(PriceProviderError):
                prices_refresh()
        assert feeds["binance"].calls == 1
        feeds["binance"].mode = "ok"
        clock.tick(timedelta(seconds=6))
        prices_refresh()
        assert feeds["binance"].calls == 2


def test_the_keyed_fx_host_refuses_the_keyless_path_and_the_keyless_host_the_keyed_one(feeds):
    keyed, keyless = feeds["fx"], feeds["fx2"]
    keyed.key = "k3y-123"
    body = httpx.get(f"{keyed.url}/v6/latest/USD").json()
    assert body["result"] == "error" and body["error-type"] == "invalid-key"
    assert httpx.get(f"{keyed.url}/v6/other-key/latest/USD").json()["error-type"] == "invalid-key"
    assert httpx.get(f"{keyless.url}/v6/k3y-123/latest/USD").status_code == 404
    # A keyed FX_HTTP_URL configured without its key: refused, the fallback prices UGX.
    prices_refresh()
    assert keyed.requests[-1][0] == "/v6/latest/USD"
    assert prices_snapshot()[("BTC", "UGX")].price == D("97123.45") * D("3700")


def test_the_keyless_fx_api_rate_limits_for_20_minutes_without_retry_after(feeds):
    """Open Access: "Rate limited IP's will receive HTTP code 429 responses.
    After 20 minutes the rate limit will finish" (no Retry-After promised)."""
    fx = feeds["fx"]
    with freeze_time() as clock:
        fx.mode = "rate-limited"
        response = httpx.get(f"{fx.url}/v6/latest/USD")
        assert response.status_code == 429 and "retry-after" not in response.headers
        prices_refresh()  # refused: the fallback FX API prices UGX
        assert fx.calls == 2 and feeds["fx2"].calls == 1
        assert prices_snapshot()[("BTC", "UGX")].price == D("97123.45") * D("3700")
        for _ in range(19):
            clock.tick(timedelta(minutes=1))
            prices_refresh()
        assert fx.calls == 2  # not called again inside the 20 minutes
        clock.tick(timedelta(minutes=1, seconds=5))
        prices_refresh()
        assert fx.calls == 3
        assert prices_snapshot()[("BTC", "UGX")].price == D("97123.45") * D("3712.5")


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


@pytest.mark.parametrize(
    ("figures", "ok"),
    [
        ({}, True),
        ({"PRICE_REFRESH_SECONDS": "20"}, False),  # a price would age past a quote's limit
        ({"QUOTE_PRICE_MAX_AGE_SECONDS": "90"}, False),  # quotable but no longer shown
        ({"PRICE_REFRESH_SECONDS": "2", "QUOTE_PRICE_MAX_AGE_SECONDS": "10"}, True),
    ],
)
def test_the_settings_refuse_a_cadence_inconsistent_with_the_maximum_ages(tmp_path, figures, ok):
    from tests.test_settings_profiles import _import_settings

    servers = {"DATABASE_URL": "postgres://dtx@db.internal/dtx", "REDIS_URL": "redis://r/0"}
    result = _import_settings(tmp_path, **servers, **figures)
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert "PRICE_REFRESH_SECONDS < QUOTE_PRICE_MAX_AGE_SECONDS" in result.stderr

"""A quote is an option the house gives away: built only on a fresh price,
executed only while the price has not moved against the house beyond the
tolerance; anonymous calculators are rate-limited and leave no rows behind."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory, fund_reserves, fund_wallet, ledger_rows, set_prices
from trading.models import Quote, Trade
from trading.tasks import quotes_purge_expired_task

pytestmark = pytest.mark.django_db
CALC = "/api/trading/calculate"
BUY = {
    "trade_type": "buy",
    "crypto_currency": "BTC",
    "fiat_currency": "UGX",
    "amount": "3600000",
    "payment_method": "balance",
}
SELL = {**BUY, "trade_type": "sell", "amount": "0.01"}


@pytest.fixture
def customer():
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "UGX", "10000000")
    fund_wallet(user, "BTC", "1")
    return user


@pytest.fixture
def api(customer):
    client = APIClient()
    client.force_authenticate(customer)
    return client


def _open(api, quote: dict, kind: str):
    body = {k: quote[k] for k in ("crypto_currency", "fiat_currency", "payment_method")}
    body.update(amount=quote["amount"], quote_id=quote["quote_id"])
    return api.post(f"/api/trading/{kind}", body, format="json")


def test_no_quote_on_a_price_older_than_the_quote_limit(api, settings):
    """Prices are still shown (PRICE_MAX_AGE) but too old to be given away."""
    settings.QUOTE_PRICE_MAX_AGE = timedelta(seconds=1)
    time.sleep(1.2)
    response = api.post(CALC, BUY, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["error"]["code"] == "stale_price"
    assert api.get("/api/trading/prices?crypto=BTC&fiat=UGX").json()["stale"] is False
    assert not Quote.objects.exists()
    # Nor a trade priced on it without a quote.
    direct = {k: v for k, v in BUY.items() if k != "trade_type"}
    assert api.post("/api/trading/buy", direct, format="json").status_code == 409
    assert not Trade.objects.exists()


def test_a_quote_is_not_executed_on_a_stale_price(api, settings):
    quote = api.post(CALC, BUY, format="json").json()
    settings.QUOTE_PRICE_MAX_AGE = timedelta(seconds=1)
    time.sleep(1.2)
    response = _open(api, quote, "buy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale_price"
    assert not Trade.objects.exists()


@pytest.mark.parametrize(
    ("quote_body", "kind", "new_btc_ugx", "executes"),
    [
        (BUY, "buy", "363600000", False),  # +1.0 %: the house would sell cheap
        (BUY, "buy", "361000000", True),  # +0.28 %: within the tolerance
        (BUY, "buy", "300000000", True),  # fell: the customer keeps the quoted rate
        (SELL, "sell", "356400000", False),  # -1.0 %: the house would buy dear
        (SELL, "sell", "420000000", True),  # rose: the quoted rate holds
    ],
)
def test_execution_is_refused_when_the_price_moved_against_the_house(
    api, quote_body, kind, new_btc_ugx, executes
):
    quote = api.post(CALC, quote_body, format="json").json()
    set_prices({("BTC", "UGX"): new_btc_ugx})
    before = ledger_rows()
    response = _open(api, quote, kind)
    if executes:
        assert response.status_code == 201, response.json()
        assert response.json()["exchange_rate"] == quote["exchange_rate"] == "360000000"
        return
    assert response.status_code == 409, response.json()
    error = response.json()["error"]
    assert error["code"] == "price_moved"
    assert error["details"]["quoted_rate"] == "360000000"
    assert error["details"]["current_rate"] == new_btc_ugx
    assert ledger_rows() == before
    assert not Trade.objects.exists()
    assert Quote.objects.get(pk=quote["quote_id"]).used_at is None


def test_a_swap_quote_is_refused_when_the_cross_rate_moved_against_the_house(api, customer):
    fund_wallet(customer, "ETH", "10")
    body = {
        **BUY,
        "amount": "1",
        "payment_method": "crypto",
        "payment_details": {"from_currency": "ETH"},
    }
    quote = api.post(CALC, body, format="json").json()
    set_prices(
        {("ETH", "UGX"): "14200000"}
    )  # ETH -1.4 %: the quote gives more BTC than ETH buys now
    trade = {
        k: body[k]
        for k in ("crypto_currency", "fiat_currency", "payment_method", "payment_details", "amount")
    }
    response = api.post("/api/trading/buy", {**trade, "quote_id": quote["quote_id"]}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "price_moved"


def test_anonymous_calculate_is_limited_per_client_address(settings):
    set_prices()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "calculate_anon": "3/min",
        },
    }
    one, other = APIClient(REMOTE_ADDR="10.1.1.1"), APIClient(REMOTE_ADDR="10.1.1.2")
    for _ in range(3):
        assert one.post(CALC, BUY, format="json").status_code == 200
    refused = one.post(CALC, BUY, format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert "Retry-After" in refused.headers
    assert Quote.objects.count() == 3
    assert other.post(CALC, BUY, format="json").status_code == 200
    # A signed-in caller from the same address counts under its own limit.
    signed_in = APIClient(REMOTE_ADDR="10.1.1.1")
    signed_in.force_authenticate(UserFactory())
    assert signed_in.post(CALC, BUY, format="json").status_code == 200


def test_expired_unused_quotes_are_purged_by_the_beat_task(api, settings):
    settings.QUOTE_PURGE_AFTER = timedelta(minutes=10)
    old, recent, used, live = (
        api.post(CALC, BUY, format="json").json()["quote_id"] for _ in range(4)
    )
    now = timezone.now()
    Quote.objects.filter(pk__in=[old, used]).update(expires_at=now - timedelta(minutes=11))
    Quote.objects.filter(pk=recent).update(expires_at=now - timedelta(minutes=5))
    Quote.objects.filter(pk=used).update(used_at=now - timedelta(minutes=12))
    assert quotes_purge_expired_task.delay().get() == 1
    assert {str(pk) for pk in Quote.objects.values_list("pk", flat=True)} == {recent, used, live}
    assert settings.CELERY_BEAT_SCHEDULE["trading-quotes-purge"]["task"] == (
        "trading.tasks.quotes_purge_expired_task"
    )

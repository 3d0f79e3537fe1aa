"""GET /metrics: who may read it, and the project's metrics after known events
(trades, Relworx calls, outbox, flagged payments, prices, WebSockets)."""

import asyncio
import json
from decimal import Decimal

import pytest
import websockets
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices
from tests.notifications.daphne_server import daphne_server
from trading.services import trade_buy

pytestmark = pytest.mark.django_db
ORIGIN = "http://127.0.0.1:8000"  # SITE_URL: the browser origin sockets must come from


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a scrape."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    return samples(response.content.decode())


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


# --- access -------------------------------------------------------------------------


def test_outsiders_get_a_bare_404(client, settings):
    settings.TRUSTED_NETWORKS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "s3cret-metrics-token"},
        {"HTTP_AUTHORIZATION": "Basic s3cret-metrics-token"},
        {"HTTP_X_FORWARDED_FOR": "10.0.0.1"},  # NUM_PROXIES=0: not believed
    ):
        response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", **headers)
        assert response.status_code == 404, headers
        assert response.content == b""


def test_no_token_configured_means_no_token_opens_it(client, settings):
    settings.TRUSTED_NETWORKS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_the_token_or_a_trusted_network_opens_it(client, settings):
    settings.TRUSTED_NETWORKS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    response = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200


def test_loopback_is_trusted_by_default(client):
    # The embedded default: Prometheus (or a person) on the same machine.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


# --- values -------------------------------------------------------------------------


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


def test_trades_and_volume_are_counted_once_committed(
    client, market, django_capture_on_commit_callbacks
):
    user = UserFactory()
    fund_wallet(user, "USD", "1000.00")
    before = scrape(client)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            trade_buy(
                user=user,
                crypto_currency="BTC",
                fiat_currency="USD",
                amount=Decimal("10.00"),
                payment_method="balance",
                payment_details={},
            )
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        trade_buy(
            user=user,
            crypto_currency="BTC",
            fiat_currency="USD",
            amount=Decimal("10.00"),
            payment_method="balance",
            payment_details={},
        )
        raise RuntimeError("rolled back: not counted")
    after = scrape(client)
    labels = {
        "trade_type": "buy",
        "payment_method": "balance",
        "crypto_currency": "BTC",
    }
    for status, n in (("completed", 3), ("pending", 3)):
        assert (
            value(after, "dtx_trades_total", status=status, **labels)
            - value(before, "dtx_trades_total", status=status, **labels)
            == n
        )
    volume = {"fiat_currency": "USD", "payment_method": "balance"}
    assert value(after, "dtx_trade_volume_total", **volume) - value(
        before, "dtx_trade_volume_total", **volume
    ) == pytest.approx(30.0)


def test_states_are_read_at_scrape_time(client, market):
    from notifications.services import outbox_emit

    scraped = scrape(client)
    for crypto in ("BTC", "ETH", "SOL", "TRX"):
        for fiat in ("USD", "UGX"):
            age = value(
                scraped, "dtx_price_age_seconds", crypto_currency=crypto, fiat_currency=fiat
            )
            assert 0 <= age < 60
    outbox_emit(kind="announcement", payload={"text": "hello"})
    scraped = scrape(client)
    assert value(scraped, "dtx_outbox_pending", destination="live") >= 1
    assert ("dtx_outbox_pending", (("destination", "email"),)) in scraped
    assert value(scraped, "dtx_outbox_oldest_pending_seconds") >= 0
    assert ("dtx_outbox_oldest_pending_seconds", ()) in scraped
    assert value(scraped, "dtx_payments_needing_attention") == 0


def test_flagged_payments_are_counted_until_resolved(client, market):
    from payments.phone import msisdn_parse
    from payments.services import mobile_money_apply_status, mobile_money_payment_create

    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction="collection",
            user=UserFactory(),
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal("5000"),
            currency="UGX",
            submit=False,
        )
    mobile_money_apply_status(
        payment_id=payment.pk,
        status="success",
        amount=Decimal("4900"),
        currency="UGX",
        internal_reference=f"rw-{payment.reference}",
        raw={},
        source="poll",
    )
    assert value(scrape(client), "dtx_payments_needing_attention") == 1


@pytest.mark.django_db(transaction=True)
def test_websocket_connections_are_a_live_gauge_of_daphne(tmp_path):
    import httpx

    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    with daphne_server(extra_env=env) as server:
        base = f"http://127.0.0.1:{server['port']}/metrics"

        def open_now() -> float:
            text = httpx.get(base, timeout=10).text
            return value(samples(text), "dtx_ws_connections")

        async def scenario():
            assert await asyncio.to_thread(open_now) == 0
            async with (
                websockets.connect(server["url"], origin=ORIGIN) as one,
                websockets.connect(server["url"], origin=ORIGIN),
            ):
                await one.send(json.dumps({"type": "ping"}))
                assert json.loads(await one.recv())["type"] == "pong"
                assert await asyncio.to_thread(open_now) == 2
            for _ in range(50):
                if await asyncio.to_thread(open_now) == 0:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("the closed sockets are still counted")

        asyncio.run(scenario())


def test_made_up_methods_share_one_label(client):
    for word in ("BREW", "WHEN", "XYZZY"):
        client.generic(word, "/healthz")
    scraped = scrape(client)
    assert value(scraped, "django_http_requests_total_by_method_total", method="other") >= 3
    assert not [k for k in scraped if ("method", "BREW") in k[1]]

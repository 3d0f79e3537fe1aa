"""A trade that settles in its own request is written once, completed
(trading.services.trade_writes): one statement on PostgreSQL, the ORM
elsewhere. Both paths must write the same rows, and the fast one must stay
a handful of statements."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import ledger.services
from notifications.models import OutboxDelivery, OutboxEvent
from tests.factories import fund_wallet
from trading.models import Trade, TradeStatusChange

pytestmark = pytest.mark.django_db

PAIR = {"crypto_currency": "BTC", "fiat_currency": "USD", "payment_method": "balance"}
BUY = {**PAIR, "amount": "500.00"}
SELL = {**PAIR, "amount": "0.001"}
SWAP = {
    "crypto_currency": "SOL",
    "fiat_currency": "USD",
    "amount": "0.01",
    "payment_method": "crypto",
    "payment_details": {"from_currency": "ETH"},
}


def _written(trade_id: str) -> dict:
    """What a trade left in the database, without ids and times."""
    trade = Trade.objects.get(public_id=trade_id)
    events = OutboxEvent.objects.filter(payload__trade_id=trade_id) | OutboxEvent.objects.filter(
        kind="activity", created_at__gte=trade.created_at
    )
    return {
        "status": trade.status,
        "amounts": (trade.fiat_amount, trade.fee_amount, trade.crypto_amount),
        "ledger": trade.ledger_transaction_id is not None,
        "history": list(
            TradeStatusChange.objects.filter(trade=trade).values_list(
                "from_status", "to_status", "actor", "reason"
            )
        ),
        "events": sorted(
            (
                e.kind,
                e.user_id,
                e.delivered_at is None,
                tuple(sorted(e.deliveries.values_list("destination", "status"))),
            )
            for e in events.distinct()
        ),
    }


@pytest.mark.parametrize("body", [BUY, SELL, SWAP], ids=["buy", "sell", "swap"])
def test_fast_and_portable_paths_write_the_same_rows(
    api, customer, prices, reserves, body, monkeypatch
):
    fund_wallet(customer, "USD", "1000.00")
    fund_wallet(customer, "BTC", "1")
    fund_wallet(customer, "ETH", "10")
    results = {}
    for fast in (True, False):
        monkeypatch.setattr(ledger.services, "FAST_SQL", fast)
        r = api.post(f"/api/trading/{'sell' if body is SELL else 'buy'}", body, format="json")
        assert r.status_code == 201, r.json()
        results[fast] = _written(r.json()["id"])
        OutboxDelivery.objects.all().delete()
        OutboxEvent.objects.all().delete()
    assert results[True] == results[False]
    # trade.updated (live + email) and activity (live), on both paths
    assert len(results[True]["events"]) == 2
    assert results[True]["status"] == "completed"
    assert [h[:2] for h in results[True]["history"]] == [("", "pending"), ("pending", "completed")]


@pytest.mark.parametrize("body", [BUY, SELL, SWAP], ids=["buy", "sell", "swap"])
def test_a_settled_trade_costs_a_handful_of_statements(api, customer, prices, reserves, body):
    """accounts, trade + history + events (one statement), posting; the
    ORM's get-or-create of a missing account would show up here. A buy
    also passes the user's buy limit (wallet.limits): the limit lock, the
    sums of the period, the use recorded."""
    fund_wallet(customer, "USD", "1000.00")
    fund_wallet(customer, "BTC", "1")
    fund_wallet(customer, "ETH", "10")
    url = f"/api/trading/{'sell' if body is SELL else 'buy'}"
    # A returning customer: the first trade created any missing account.
    assert api.post(url, body, format="json").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        r = api.post(url, body, format="json")
    assert r.status_code == 201, r.json()
    writes = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    budget = 3 if body is SELL or body is SWAP else 6
    assert len(writes) <= budget, "\n".join(sql[:120] for sql in writes)


def test_the_response_of_an_idempotent_settled_trade_is_stored_with_it(
    api, customer, prices, reserves
):
    fund_wallet(customer, "USD", "1000.00")
    first = api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Trade.objects.get(public_id=first.json()["id"]).response_body == first.json()
    assert Decimal(first.json()["fiat_amount"]) == Decimal("500.00")

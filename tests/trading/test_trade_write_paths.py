"""A trade is written once (trading.services.trade_writes.trade_insert):
completed, with its posting, when it settles in its own request; pending,
before its outside payment starts, otherwise. What each writes, and that the
settled path stays a handful of statements."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from notifications.models import OutboxEvent
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
def test_a_trade_settled_in_its_request_is_written_once_completed(
    api, customer, prices, reserves, body
):
    fund_wallet(customer, "USD", "1000.00")
    fund_wallet(customer, "BTC", "1")
    fund_wallet(customer, "ETH", "10")
    r = api.post(f"/api/trading/{'sell' if body is SELL else 'buy'}", body, format="json")
    assert r.status_code == 201, r.json()
    written = _written(r.json()["id"])
    actor = f"user:{customer.pk}"
    assert written["status"] == "completed"
    assert written["ledger"] is True
    assert [h[:3] for h in written["history"]] == [
        ("", "pending", actor),
        ("pending", "completed", actor),
    ]
    # trade.updated (live + email) and activity (live): the pending state was
    # never visible, so it has no event.
    assert written["events"] == sorted(
        [
            ("activity", None, True, (("live", "pending"),)),
            ("trade.updated", customer.pk, True, (("email", "pending"), ("live", "pending"))),
        ]
    )
    trade = Trade.objects.get(public_id=r.json()["id"])
    assert r.json()["fiat_amount"] == f"{trade.fiat_amount:.2f}"
    assert trade.ledger_transaction.entries.count() >= 4


def test_a_trade_paid_outside_is_written_pending_and_announced(
    api, customer, prices, reserves, external_method
):
    body = {**BUY, "payment_method": "test_external", "fiat_currency": "USD"}
    r = api.post("/api/trading/buy", body, format="json")
    assert r.status_code == 201, r.json()
    written = _written(r.json()["id"])
    assert written["status"] == "pending"
    assert written["ledger"] is False
    assert written["history"] == [("", "pending", f"user:{customer.pk}", "created")]
    assert written["events"] == [("trade.updated", customer.pk, True, (("live", "pending"),))]
    assert r.json()["instructions"] == {"message": "Approve the prompt on your phone"}
    assert external_method.started[-1] == ("buy", Trade.objects.get(public_id=r.json()["id"]).pk)


def test_a_sale_paid_out_outside_is_written_pending_with_its_posting(
    api, customer, prices, reserves, external_method
):
    fund_wallet(customer, "BTC", "1")
    body = {**SELL, "payment_method": "test_external", "payment_details": {}}
    r = api.post("/api/trading/sell", body, format="json")
    assert r.status_code == 201, r.json()
    written = _written(r.json()["id"])
    assert (written["status"], written["ledger"]) == ("pending", True)
    assert written["history"] == [("", "pending", f"user:{customer.pk}", "created")]


@pytest.mark.parametrize("body", [BUY, SELL, SWAP], ids=["buy", "sell", "swap"])
def test_a_settled_trade_costs_a_handful_of_statements(api, customer, prices, reserves, body):
    """accounts; trade + history, its events and its posting (three
    statements, one round trip: a psycopg pipeline). The ORM's get-or-create of a missing
    account would show up here. A buy
    also passes the user's buy limit (wallet.limits): the limit lock, the
    period's totals and the lock of a use it would replace (three statements,
    one round trip: a pipeline), the use recorded with its totals."""
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
    budget = 4 if body is SELL or body is SWAP else 8
    assert len(writes) <= budget, "\n".join(sql[:120] for sql in writes)


_TRADE_INSERT = "WITH t AS (INSERT INTO trading_trade"
_OUTBOX_INSERT = "WITH e AS MATERIALIZED"
_POSTING = "WITH d(id, currency, delta)"


def _post_watched(api, url, body):
    """The response, and each statement sent with whether the connection was
    in pipeline mode."""
    sent: list[tuple[str, bool]] = []

    def watch(execute, sql, params, many, context):
        in_pipeline = connection.connection.info.pipeline_status == pq.PipelineStatus.ON
        sent.append((sql, in_pipeline))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        return api.post(url, body, format="json"), sent


@pytest.mark.parametrize("body", [BUY, SELL, SWAP], ids=["buy", "sell", "swap"])
def test_a_settled_trade_sends_its_row_events_and_posting_in_one_pipeline(
    api, customer, prices, reserves, body
):
    """The trade row, its outbox events and its posting share one round trip:
    sent one after the other while the connection is in pipeline mode."""
    fund_wallet(customer, "USD", "1000.00")
    fund_wallet(customer, "BTC", "1")
    fund_wallet(customer, "ETH", "10")
    url = f"/api/trading/{'sell' if body is SELL else 'buy'}"
    r, sent = _post_watched(api, url, body)
    assert r.status_code == 201, r.json()
    kinds = [
        (prefix, in_pipeline)
        for sql, in_pipeline in sent
        for prefix in (_TRADE_INSERT, _OUTBOX_INSERT, _POSTING)
        if sql.startswith(prefix)
    ]
    assert kinds == [(_TRADE_INSERT, True), (_OUTBOX_INSERT, True), (_POSTING, True)]
    start = next(i for i, (sql, _) in enumerate(sent) if sql.startswith(_TRADE_INSERT))
    assert all(in_pipeline for _, in_pipeline in sent[start : start + 3])


def test_a_refused_posting_in_the_pipeline_leaves_no_trade_and_no_event(
    api, customer, prices, reserves
):
    """The posting is refused after the trade row was sent with it: the
    request's transaction rolls back whole."""
    fund_wallet(customer, "USD", "100.00")
    r, sent = _post_watched(api, "/api/trading/buy", BUY)  # 500 USD from 100
    assert r.status_code == 409, r.json()
    # Refused by the posting itself, sent after the trade row.
    assert [sql[:27] for sql, _ in sent if sql.startswith((_TRADE_INSERT, _POSTING))] == [
        _TRADE_INSERT[:27],
        _POSTING[:27],
    ]
    assert r.json()["error"]["code"] == "insufficient_balance"
    assert not Trade.objects.exists()
    assert not TradeStatusChange.objects.exists()
    assert not OutboxEvent.objects.filter(kind__in=["trade.updated", "activity"]).exists()


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

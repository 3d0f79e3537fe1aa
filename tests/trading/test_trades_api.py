"""trades list/detail/cancel, payment-methods, balances, the OpenAPI schema."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, fund_wallet, ledger_rows
from trading.models import Trade, TradeStatusChange

D = Decimal
pytestmark = pytest.mark.django_db
BUY = {
    "crypto_currency": "BTC",
    "fiat_currency": "USD",
    "amount": "10.00",
    "payment_method": "balance",
}


def _buy(client, **change):
    r = client.post("/api/trading/buy", {**BUY, **change}, format="json")
    assert r.status_code == 201, r.json()
    return r.json()


def test_list_newest_first_with_limit_and_status(api, customer, prices, reserves, external_method):
    fund_wallet(customer, "USD", "1000.00")
    ids = [_buy(api)["id"] for _ in range(3)]
    pending = _buy(api, payment_method="test_external")["id"]
    r = api.get("/api/trading/trades")
    assert r.status_code == 200
    assert [t["id"] for t in r.json()["trades"]] == [pending, *reversed(ids)]
    r = api.get("/api/trading/trades?limit=2")
    assert [t["id"] for t in r.json()["trades"]] == [pending, ids[2]]
    r = api.get("/api/trading/trades?status=pending")
    assert [t["id"] for t in r.json()["trades"]] == [pending]
    for bad in ("limit=0", "limit=101", "limit=x", "status=lost"):
        r = api.get(f"/api/trading/trades?{bad}")
        assert r.status_code == 400, bad
        assert r.json()["error"]["code"] == "invalid_input"


def test_list_shows_only_my_trades(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "100.00")
    _buy(api)
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.get("/api/trading/trades").json()["trades"] == []


def test_detail_and_another_users_trade_is_404(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "100.00")
    trade = _buy(api)
    r = api.get(f"/api/trading/trades/{trade['id']}")
    assert r.status_code == 200 and r.json()["reference"] == trade["reference"]
    other = APIClient()
    other.force_authenticate(UserFactory())
    for client, trade_id in (
        (other, trade["id"]),
        (api, "not-a-uuid"),
        (api, "00000000-0000-0000-0000-000000000000"),
    ):
        r = client.get(f"/api/trading/trades/{trade_id}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "trade_not_found"
    r = other.post(f"/api/trading/trades/{trade['id']}/cancel")
    assert r.status_code == 404


def test_cancel_a_pending_trade_only(api, customer, prices, reserves, external_method):
    fund_wallet(customer, "USD", "100.00")
    done = _buy(api)
    pending = _buy(api, payment_method="test_external")
    assert pending["status"] == "pending"
    assert pending["instructions"] == {"message": "Approve the prompt on your phone"}
    rows = ledger_rows()

    r = api.post(f"/api/trading/trades/{done['id']}/cancel")
    assert r.status_code == 409 and r.json()["error"]["code"] == "trade_not_cancellable"
    r = api.post(f"/api/trading/trades/{pending['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = api.post(f"/api/trading/trades/{pending['id']}/cancel")
    assert r.status_code == 409
    assert ledger_rows() == rows
    change = TradeStatusChange.objects.filter(trade__public_id=pending["id"]).last()
    assert (change.from_status, change.to_status, change.actor) == (
        "pending",
        "cancelled",
        f"user:{customer.pk}",
    )


def test_payment_methods_lists_the_registry(anon):
    r = anon.get("/api/trading/payment-methods")
    assert r.status_code == 200
    methods = {m["id"]: m for m in r.json()["payment_methods"]}
    assert {"balance", "crypto"} <= set(methods)
    assert methods["balance"]["fee_rate"] == "0.005"
    assert methods["balance"]["supports_sell"] is True
    assert methods["balance"]["limits"]["USD"] == {"min": "1", "max": "50000"}
    assert methods["crypto"]["processing_time"] == "Instant"


def test_balances(api, customer, anon):
    fund_wallet(customer, "UGX", "5000")
    r = api.get("/api/trading/balances")
    assert r.status_code == 200
    balances = {b["currency"]: b["balance"] for b in r.json()["balances"]}
    assert balances["UGX"] == "5000" and balances["BTC"] == "0.00000000"
    assert anon.get("/api/trading/balances").status_code == 401


def test_schema_documents_the_trading_api(anon):
    r = anon.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in (
        "prices",
        "calculate",
        "buy",
        "sell",
        "trades",
        "trades/{trade_id}",
        "trades/{trade_id}/cancel",
        "payment-methods",
        "balances",
    ):
        assert f"/api/trading/{path}" in paths
    buy = paths["/api/trading/buy"]["post"]
    assert "201" in buy["responses"] and "409" in buy["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in buy["parameters"])


def test_trade_rows_are_not_touched_by_reads(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "100.00")
    trade = _buy(api)
    before = Trade.objects.get(public_id=trade["id"]).updated_at
    api.get(f"/api/trading/trades/{trade['id']}")
    assert Trade.objects.get(public_id=trade["id"]).updated_at == before


def test_trading_needs_a_verified_email(prices, reserves):
    user = UserFactory(email_verified_at=None)
    fund_wallet(user, "USD", "100.00")
    client = APIClient()
    client.force_authenticate(user)
    rows = ledger_rows()
    for method, url in (
        ("post", "/api/trading/buy"),
        ("post", "/api/trading/sell"),
        ("get", "/api/trading/trades"),
        ("get", "/api/trading/balances"),
    ):
        r = (
            getattr(client, method)(url, BUY, format="json")
            if method == "post"
            else client.get(url)
        )
        assert r.status_code == 403, url
        assert r.json()["error"]["code"] == "email_not_verified"
    assert ledger_rows() == rows
    # Prices, quotes and the methods stay public.
    assert (
        client.post(
            "/api/trading/calculate", {**BUY, "trade_type": "buy"}, format="json"
        ).status_code
        == 200
    )

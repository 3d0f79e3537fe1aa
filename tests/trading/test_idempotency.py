"""Idempotency-Key on buy/sell: replay, reuse with other parameters, races."""

import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from ledger.selectors import balance_get
from tests.factories import UserFactory, fund_reserves, fund_wallet, ledger_rows, set_prices
from trading.models import Trade

D = Decimal
BUY = {
    "crypto_currency": "BTC",
    "fiat_currency": "USD",
    "amount": "100.00",
    "payment_method": "balance",
}


@pytest.mark.django_db
def test_same_key_same_body_replays_the_first_response(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "1000.00")
    first = api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    rows = ledger_rows()
    set_prices({("BTC", "USD"): "50000"})  # a new request would get other amounts
    again = api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ledger_rows() == rows and Trade.objects.count() == 1
    assert balance_get(user=customer, currency="USD") == D("900.00")


@pytest.mark.django_db
def test_same_key_other_body_is_409(api, customer, prices, reserves):
    fund_wallet(customer, "USD", "1000.00")
    api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    rows = ledger_rows()
    r = api.post(
        "/api/trading/buy", {**BUY, "amount": "200.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert ledger_rows() == rows


@pytest.mark.django_db
def test_keys_are_per_user(api, customer, prices, reserves):
    other = UserFactory()
    for user in (customer, other):
        fund_wallet(user, "USD", "1000.00")
    client = APIClient()
    client.force_authenticate(other)
    assert (
        api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code
        == 201
    )
    r = client.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r
    assert Trade.objects.count() == 2


@pytest.mark.django_db
def test_bad_key_is_400(api, customer, prices, reserves):
    r = api.post("/api/trading/buy", BUY, format="json", HTTP_IDEMPOTENCY_KEY="x" * 129)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_idempotency_key"


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_trade():
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "BTC", "1")
    n = 8
    barrier = threading.Barrier(n)
    results = []
    lock = threading.Lock()

    def sell():
        client = APIClient()
        client.force_authenticate(user)
        try:
            barrier.wait()
            r = client.post(
                "/api/trading/sell",
                {**BUY, "amount": "0.01"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="race",
            )
            with lock:
                results.append((r.status_code, r.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=sell) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [201] * n
    assert len({trade_id for _, trade_id in results}) == 1
    assert Trade.objects.count() == 1
    assert balance_get(user=user, currency="BTC") == D("0.99")
    call_command("reconcile_ledger", stdout=StringIO())  # exits non-zero on any problem

"""POST /api/trading/sell to the fiat wallet, including concurrent sells."""

import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from ledger.models import AccountKind
from ledger.selectors import balance_get
from ledger.services import house_account
from tests.factories import UserFactory, fund_reserves, fund_wallet, ledger_rows, set_prices
from trading.models import Trade

D = Decimal
URL = "/api/trading/sell"


@pytest.mark.django_db
def test_sell_to_balance_completes_and_pays_net(api, customer, prices, reserves):
    fund_wallet(customer, "BTC", "0.01")
    reserve_usd = house_account(kind=AccountKind.RESERVE, currency="USD").balance
    r = api.post(
        URL,
        {
            "crypto_currency": "BTC",
            "fiat_currency": "USD",
            "amount": "0.00123457",
            "payment_method": "balance",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    # gross 123.457 -> 123.45; net = 123.457 x 0.995 = 122.839715 -> 122.83; fee = remainder
    assert (body["fiat_amount"], body["net_amount"], body["fee_amount"]) == (
        "123.45",
        "122.83",
        "0.62",
    )
    assert D(body["fiat_amount"]) == D(body["net_amount"]) + D(body["fee_amount"])
    assert body["status"] == "completed"
    assert balance_get(user=customer, currency="BTC") == D("0.00876543")
    assert balance_get(user=customer, currency="USD") == D("122.83")
    assert house_account(kind=AccountKind.RESERVE, currency="USD").balance == (
        reserve_usd - D("123.45")
    )
    assert house_account(kind=AccountKind.FEE_REVENUE, currency="USD").balance == D("0.62")


@pytest.mark.django_db
def test_sell_ugx_rounds_to_whole_shillings(api, customer, prices, reserves):
    fund_wallet(customer, "ETH", "1")
    r = api.post(
        URL,
        {
            "crypto_currency": "ETH",
            "fiat_currency": "UGX",
            "amount": "0.0123456789",
            "payment_method": "balance",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    # gross = 177777.77616 -> 177777; net = x 0.995 = 176888.887 -> 176888; fee 889
    assert (body["fiat_amount"], body["net_amount"], body["fee_amount"]) == (
        "177777",
        "176888",
        "889",
    )
    assert balance_get(user=customer, currency="UGX") == D("176888")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "0.5"}, 409, "insufficient_balance"),
        ({"amount": "0.000000001"}, 400, "too_many_decimals"),
        ({"amount": "-0.001"}, 400, "invalid_input"),
        ({"payment_method": "crypto"}, 400, "method_not_supported"),
        ({"amount": "0.000001"}, 400, "amount_below_minimum"),
    ],
)
def test_bad_sell_writes_nothing(api, customer, prices, reserves, change, status, code):
    fund_wallet(customer, "BTC", "0.01")
    before = ledger_rows()
    data = {
        "crypto_currency": "BTC",
        "fiat_currency": "USD",
        "amount": "0.001",
        "payment_method": "balance",
        **change,
    }
    r = api.post(URL, data, format="json")
    assert r.status_code == status, r.json()
    assert r.json()["error"]["code"] == code
    assert ledger_rows() == before and not Trade.objects.exists()
    assert balance_get(user=customer, currency="BTC") == D("0.01")


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_sells_against_a_wallet_covering_10():
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "BTC", "0.01")  # covers exactly 10 sells of 0.001
    results: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def sell():
        client = APIClient()
        client.force_authenticate(user)
        try:
            start.wait()
            r = client.post(
                URL,
                {
                    "crypto_currency": "BTC",
                    "fiat_currency": "USD",
                    "amount": "0.001",
                    "payment_method": "balance",
                },
                format="json",
            )
            with lock:
                results.append(r.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=sell) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [201] * 10 + [409] * 40
    assert balance_get(user=user, currency="BTC") == D("0")
    assert Trade.objects.filter(status="completed").count() == 10
    assert balance_get(user=user, currency="USD") == 10 * D("99.50")
    call_command("reconcile_ledger", stdout=StringIO())  # exits non-zero on any problem

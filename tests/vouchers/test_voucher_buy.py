"""POST /api/trading/buy with payment_method "voucher": redeemed once, the
trade completes at once, paid from the voucher liability."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from ledger.selectors import balance_get
from tests.factories import UserFactory, VoucherFactory, ledger_rows
from tests.vouchers.conftest import (
    assert_code_stored_nowhere,
    assert_ledger_reconciles,
    house_balance,
)
from trading.models import Trade
from vouchers.models import Voucher
from vouchers.services import voucher_redeem, voucher_void

BUY = "/api/trading/buy"
CALC = "/api/trading/calculate"
D = Decimal


def _buy(client, code, *, amount="50000", fiat="UGX", crypto="BTC", **headers):
    return client.post(
        BUY,
        {
            "crypto_currency": crypto,
            "fiat_currency": fiat,
            "amount": amount,
            "payment_method": "voucher",
            "payment_details": {"voucher_code": code},
        },
        format="json",
        **headers,
    )


@pytest.mark.django_db
def test_buy_with_a_voucher_completes_at_once(api, user, prices, reserves):
    voucher = VoucherFactory(amount="50000", currency="UGX")
    assert house_balance("voucher_liability", "UGX") == D("50000")
    quote = api.post(
        CALC,
        {"crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "50000",
         "trade_type": "buy", "payment_method": "voucher"},
        format="json",
    ).json()  # fmt: skip
    before = balance_get(user=user, currency="BTC")

    # Typed the way people do: lower case, spaces instead of dashes.
    r = _buy(api, voucher.plain_code.lower().replace("-", " "))

    assert r.status_code == 201, r.json()
    body = r.json()
    # fee 1% of UGX 50,000 = 500; 49,500 / 360,000,000 = 0.0001375 BTC
    assert body["status"] == "completed"
    assert (body["fiat_amount"], body["fee_amount"], body["fee_rate"]) == ("50000", "500", "0.01")
    assert body["crypto_amount"] == quote["crypto_amount"] == "0.00013750"
    assert balance_get(user=user, currency="BTC") - before == D(body["crypto_amount"])
    assert body["payment_details"] == {"voucher_id": voucher.pk, "voucher_suffix": voucher.suffix}

    trade = Trade.objects.get(public_id=body["id"])
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_by, voucher.redeemed_trade) == (
        "redeemed",
        user,
        trade,
    )
    # The liability paid for it: nothing is owed any more; fee and reserve got theirs.
    assert house_balance("voucher_liability", "UGX") == 0
    assert house_balance("fee_revenue", "UGX") == D("500")
    assert_code_stored_nowhere(voucher.plain_code)
    assert_ledger_reconciles()

    again = _buy(api, voucher.plain_code)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "voucher_unavailable"
    assert Trade.objects.count() == 1


@pytest.mark.django_db
def test_usd_voucher_buys_eth(api, user, prices, reserves):
    voucher = VoucherFactory(amount="25", currency="USD")
    r = _buy(api, voucher.plain_code, amount="25.00", fiat="USD", crypto="ETH")
    assert r.status_code == 201, r.json()
    # fee 0.25; 24.75 / 4000 = 0.0061875 ETH
    assert r.json()["crypto_amount"] == "0.006187500000000000"
    assert balance_get(user=user, currency="ETH") == D("0.0061875")
    assert_ledger_reconciles()


@pytest.fixture
def unusable(user):
    """One voucher in each unusable state, and an unknown code."""
    staff = UserFactory(is_staff=True)
    redeemed, void, expired = VoucherFactory(), VoucherFactory(), VoucherFactory()
    voucher_redeem(voucher_id=redeemed.pk, currency="UGX", user=user)
    voucher_void(voucher_id=void.pk, actor=staff, reason="stolen")
    Voucher.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    return {
        "unknown": "DTX-2345-6789-ABCD-EFGH-JKMN",
        "redeemed": redeemed.plain_code,
        "void": void.plain_code,
        "expired": expired.plain_code,
    }


@pytest.mark.django_db
def test_unusable_vouchers_get_one_envelope_and_write_nothing(api, prices, reserves, unusable):
    rows, vouchers = ledger_rows(), list(Voucher.objects.values())
    answers = []
    for name, code in unusable.items():
        r = _buy(api, code)
        assert r.status_code == 400, name
        answers.append(r.json())
    assert answers[0]["error"]["code"] == "voucher_unavailable"
    assert all(a == answers[0] for a in answers)  # unknown == redeemed == void == expired
    assert Trade.objects.count() == 0
    assert ledger_rows() == rows
    assert list(Voucher.objects.values()) == vouchers


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"fiat": "USD", "amount": "50.00"}, 400, "voucher_currency_mismatch"),
        ({"amount": "40000"}, 400, "amount_mismatch"),
        ({"amount": "50001"}, 400, "amount_mismatch"),
        ({"code": "DTX-ABCD-EFGH"}, 400, "invalid_voucher_code"),
        ({"code": "DTX-0OIL-ABCD-EFGH-JKMN-PQRS"}, 400, "invalid_voucher_code"),
        ({"code": ""}, 400, "invalid_input"),
        ({"code": None}, 400, "invalid_input"),
        ({"code": 12345}, 400, "invalid_voucher_code"),
        ({"code": {"nested": "x"}}, 400, "invalid_voucher_code"),
    ],
)
def test_bad_voucher_buys_get_the_envelope_and_write_nothing(
    api, prices, reserves, voucher, change, status, code
):
    rows, vouchers = ledger_rows(), list(Voucher.objects.values())
    r = _buy(
        api,
        change.get("code", voucher.plain_code),
        amount=change.get("amount", "50000"),
        fiat=change.get("fiat", "UGX"),
    )
    assert r.status_code == status, r.json()
    error = r.json()["error"]
    assert error["code"] == code
    assert error["message"]
    if code == "amount_mismatch":
        assert error["details"]["voucher_amount"] == "50000"
        assert "UGX 50,000" in error["message"]
    assert Trade.objects.count() == 0
    assert ledger_rows() == rows
    assert list(Voucher.objects.values()) == vouchers


@pytest.mark.django_db
def test_missing_payment_details_and_sell_are_refused(api, user, prices, reserves, voucher):
    rows = ledger_rows()
    r = api.post(
        BUY,
        {"crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "50000",
         "payment_method": "voucher"},
        format="json",
    )  # fmt: skip
    assert r.status_code == 400
    assert "payment_details.voucher_code" in r.json()["error"]["details"]
    r = api.post(
        "/api/trading/sell",
        {"crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "0.001",
         "payment_method": "voucher", "payment_details": {"voucher_code": voucher.plain_code}},
        format="json",
    )  # fmt: skip
    assert r.status_code == 400
    assert Trade.objects.count() == 0
    assert ledger_rows() == rows
    assert Voucher.objects.get(pk=voucher.pk).status == "active"


@pytest.mark.django_db
def test_idempotent_replay_redeems_once(api, prices, reserves, voucher):
    first = _buy(api, voucher.plain_code, HTTP_IDEMPOTENCY_KEY="buy-voucher-1")
    second = _buy(api, voucher.plain_code, HTTP_IDEMPOTENCY_KEY="buy-voucher-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Trade.objects.count() == 1
    assert house_balance("voucher_liability", "UGX") == 0
    assert_ledger_reconciles()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_voucher_buys_complete_exactly_one(prices, reserves):
    voucher = VoucherFactory(amount="50000", currency="UGX")
    users = [UserFactory() for _ in range(20)]
    rows_before = ledger_rows()
    barrier = threading.Barrier(len(users))
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def buy(user):
        client = APIClient()
        client.force_authenticate(user)
        try:
            barrier.wait(timeout=30)
            r = _buy(client, voucher.plain_code)
            outcome = (r.status_code, r.json())
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=buy, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert len(results) == 20
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * 19, results
    assert {body["error"]["code"] for status, body in results if status == 400} == {
        "voucher_unavailable"
    }
    [winner] = [body for status, body in results if status == 201]
    assert winner["status"] == "completed"
    trade = Trade.objects.get()
    assert (trade.status, str(trade.public_id)) == ("completed", winner["id"])
    voucher.refresh_from_db()
    assert (voucher.status, voucher.redeemed_trade_id) == ("redeemed", trade.pk)
    assert balance_get(user=trade.user, currency="BTC") == D("0.0001375")
    # Exactly one more ledger transaction (the settlement, 5 entries).
    assert ledger_rows() == (rows_before[0] + 1, rows_before[1] + 5)
    assert house_balance("voucher_liability", "UGX") == 0
    assert_ledger_reconciles()


@pytest.mark.django_db
def test_voucher_is_listed_as_a_payment_method(api):
    methods = {
        m["id"]: m for m in api.get("/api/trading/payment-methods").json()["payment_methods"]
    }
    voucher = methods["voucher"]
    assert (voucher["fee_rate"], voucher["supports_buy"], voucher["supports_sell"]) == (
        "0.010",
        True,
        False,
    )
    assert voucher["currencies"] == ["UGX", "USD"]

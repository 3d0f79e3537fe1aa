"""The back office shows trades read-only."""

import pytest

from tests.factories import UserFactory, fund_wallet
from tests.staff import staff_sign_in
from trading.models import Trade

pytestmark = pytest.mark.django_db


def test_staff_see_trades_and_cannot_change_them(client, api, customer, prices, reserves):
    fund_wallet(customer, "USD", "100.00")
    api.post(
        "/api/trading/buy",
        {
            "crypto_currency": "BTC",
            "fiat_currency": "USD",
            "amount": "10.00",
            "payment_method": "balance",
        },
        format="json",
    )
    trade = Trade.objects.get()
    staff = UserFactory(is_staff=True, roles=["admin"])
    staff_sign_in(client, staff)
    r = client.get("/admin/trading/trade/")
    assert r.status_code == 200 and trade.reference in r.content.decode()
    r = client.get(f"/admin/trading/trade/{trade.pk}/change/")
    assert r.status_code == 200 and "completed" in r.content.decode()
    before = Trade.objects.values().get()
    r = client.post(f"/admin/trading/trade/{trade.pk}/change/", {"status": "failed"})
    assert r.status_code == 403
    assert Trade.objects.values().get() == before
    assert client.get("/admin/trading/quote/").status_code == 200

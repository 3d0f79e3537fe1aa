"""A real socket drop: the server goes away (every connection with it) and
comes back on the same port; the page reconnects by itself and keeps
receiving its user's trade updates over the new socket."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ledger.models import AccountKind
from ledger.services import house_account
from tests.factories import UserFactory, fund_reserves, set_prices
from trading.models import Trade
from trading.services.trades import trade_settle_buy

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_page_reconnects_after_the_server_drops_every_socket(page, e2e_server, sign_in):
    set_prices()
    fund_reserves()
    user = UserFactory(email="akello@example.com")
    trade = Trade.objects.create(
        user=user,
        trade_type="buy",
        crypto_currency="BTC",
        fiat_currency="UGX",
        crypto_amount=Decimal("0.000995"),
        fiat_amount=Decimal("360000"),
        fee_amount=Decimal("1800"),
        fee_rate=Decimal("0.005"),
        exchange_rate=Decimal("360000000"),
        payment_method="bank_deposit",
        status="pending",
    )
    sign_in(page, user)
    page.goto(f"/trades/{trade.public_id}/")
    page.wait_for_function("() => window.dtxLive && window.dtxLive.connected")
    page.evaluate("() => { window.__sameDocument = true; }")

    e2e_server.restart()
    page.wait_for_function("() => window.dtxLive.connects >= 2", timeout=20_000)
    expect(page.locator("#live-state")).to_be_hidden()

    trade_settle_buy(
        trade_id=trade.pk,
        funding_account=house_account(kind=AccountKind.BANK_CLEARING, currency="UGX"),
        actor="test:bank",
    )
    expect(page.locator("#trade-status")).to_have_text("Completed", timeout=10_000)
    assert page.evaluate("() => window.dtxLive.polling") is False  # it came over the socket
    assert page.evaluate("() => window.__sameDocument") is True

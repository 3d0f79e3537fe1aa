"""Live updates in a real browser: a trade completing elsewhere shows up on its
page without a reload (over the socket, or by polling the API while the socket
is down)."""

from decimal import Decimal

import pytest
from django.conf import settings
from playwright.sync_api import expect

from ledger.models import AccountKind
from ledger.services import house_account
from tests.factories import UserFactory, fund_reserves, set_prices
from trading.models import Trade
from trading.services.trades import trade_settle_buy

pytestmark = pytest.mark.django_db(transaction=True)


def _pending_buy(user) -> Trade:
    # A buy waiting for an outside payment, as a payment method leaves it.
    return Trade.objects.create(
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
        instructions={
            "reference_code": "DTX-7Q4KM2",
            "amount": "360000",
            "currency": "UGX",
            "bank": dict(settings.BANK_INSTRUCTIONS),
        },
    )


def test_a_pending_trade_completes_on_screen_without_reloading(page, sign_in, shoot):
    set_prices()
    fund_reserves()
    user = UserFactory(email="mugisha@example.com")
    trade = _pending_buy(user)
    sign_in(page, user)
    page.goto(f"/trades/{trade.public_id}/")
    expect(page.locator("#trade-status")).to_have_text("Waiting for your bank transfer")
    expect(page.locator("#deposit-reference")).to_have_text("DTX-7Q4KM2")
    expect(page.get_by_text(settings.BANK_INSTRUCTIONS["account_number"])).to_be_visible()
    shoot(page, "trade-bank-deposit")
    page.evaluate("() => { window.__sameDocument = true; }")

    # The payment arrives (staff approve it, a webhook lands...): the server settles.
    trade_settle_buy(
        trade_id=trade.pk,
        funding_account=house_account(kind=AccountKind.BANK_CLEARING, currency="UGX"),
        actor="test:bank",
    )

    expect(page.locator("#trade-status")).to_have_text("Completed", timeout=20_000)
    expect(page.locator("#toasts .toast")).to_contain_text("Completed")
    expect(page.locator("#timeline li")).to_have_count(2)
    expect(page.locator("#deposit-reference")).to_have_count(0)  # nothing left to pay
    assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
    shoot(page, "trade-live-completed")

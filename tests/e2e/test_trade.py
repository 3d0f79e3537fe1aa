"""Trading in a real browser: the live summary, the confirm step, the trade page."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ledger.selectors import balance_get
from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


def test_buy_from_the_wallet_with_the_live_summary_then_sell_back(page, sign_in, shoot, market):
    user = UserFactory(email="nakato@example.com")
    fund_wallet(user, "UGX", "500000")
    sign_in(page, user)
    page.goto("/trade/")
    page.locator("#trade-form[data-ready]").wait_for()
    page.get_by_label("Wallet balance").check()
    page.get_by_label("Amount to pay (UGX)").fill("360000")
    # The summary recalculates through /api/trading/calculate as you type.
    page.locator("#sum-get").get_by_text("0.00099500 BTC").wait_for()
    expect(page.locator("#sum-fee")).to_contain_text("UGX 1,800")
    shoot(page, "trade")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("heading", name="Confirm your purchase").wait_for()
    expect(page.locator("#quote-countdown")).to_contain_text("s left")
    shoot(page, "trade-confirm")
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url("**/trades/*/")
    assert page.locator("#trade-status").inner_text() == "Completed"
    shoot(page, "trade-detail")
    assert balance_get(user=user, currency="BTC") == Decimal("0.000995")

    # Sell half of it back to the wallet.
    page.goto("/trade/")
    page.locator("#trade-form[data-ready]").wait_for()
    page.get_by_text("Sell", exact=True).click()
    page.get_by_label("Amount of BTC to sell").fill("0.0005")
    page.locator("#sum-get").get_by_text("UGX 179,100").wait_for()  # 180,000 less 0.5%
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Sell now").click()
    page.wait_for_url("**/trades/*/")
    assert page.locator("#trade-status").inner_text() == "Completed"
    page.goto("/dashboard/")
    assert page.locator('[data-balance="UGX"]').inner_text() == "UGX 319,100"
    assert page.locator('[data-balance="BTC"]').inner_text() == "0.00049500 BTC"
    shoot(page, "dashboard")
    page.goto("/trades/")
    assert page.locator("tr[data-trade]").count() == 2
    shoot(page, "history")

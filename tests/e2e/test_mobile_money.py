"""Buying with mobile money in a real browser, against the Relworx sandbox:
the network is named as you type, the page asks you to approve the prompt,
and the trade turns completed on screen when the signed webhook arrives."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory, fund_reserves, set_prices
from trading.models import Trade

pytestmark = pytest.mark.django_db(transaction=True)


def test_mobile_money_buy_with_the_success_number_completes_live(page, sign_in, shoot):
    set_prices()
    fund_reserves()
    user = UserFactory(email="opio@example.com")
    sign_in(page, user)
    page.goto("/trade/")
    page.locator("#trade-form[data-ready]").wait_for()
    page.get_by_text("Mobile money (MTN, Airtel)").click()
    phone = page.get_by_label("Mobile money number")
    phone.press_sequentially("0770 000 00")
    expect(page.locator("#network")).to_have_text("MTN Uganda")
    phone.press_sequentially("1")
    expect(page.locator("#network")).to_have_text("MTN Uganda ✓")
    page.get_by_label("Amount to pay (UGX)").fill("50000")
    expect(page.locator("#sum-fee")).to_contain_text("UGX 1,250")  # 2.5%
    expect(page.locator("#sum-fee")).to_have_text("UGX 1,250 (2.5%)")  # format.js percent()
    shoot(page, "trade-mobile-money")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url("**/trades/*/")
    page.evaluate("() => { window.__sameDocument = true; }")
    expect(page.get_by_text("Approve the prompt on your phone.")).to_be_visible()
    expect(page.locator("#trade-status")).to_have_text(
        re.compile("Approve the prompt on your phone|Completed")
    )
    shoot(page, "trade-approve-prompt")

    expect(page.locator("#trade-status")).to_have_text("Completed", timeout=25_000)
    assert page.evaluate("() => window.__sameDocument") is True
    trade = Trade.objects.get(user=user)
    assert trade.status == "completed"
    assert trade.fiat_amount == Decimal("50000")

"""The issue's journey in a real browser: sign up, read the code from the sent
email, verify, buy with a voucher, sell to the wallet, see the balances."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import VoucherFactory, fund_reserves, set_prices

pytestmark = pytest.mark.django_db(transaction=True)


def _code_from_email(e2e_server, email: str) -> str:
    for message in reversed(e2e_server.emails()):
        if email in message:
            match = re.search(r"^\s+(\d{6})\s*$", message, re.MULTILINE)
            if match:
                return match.group(1)
    raise AssertionError(f"no verification email for {email}")


def test_sign_up_verify_buy_with_a_voucher_then_sell_to_the_wallet(page, e2e_server, shoot):
    set_prices()
    fund_reserves()
    voucher = VoucherFactory(amount="360000", currency="UGX")

    page.goto("/signup/")
    page.get_by_label("Email address").fill("wanjiru@example.com")
    page.get_by_label("Password").fill("jinja-source-nile-9")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/verify/")
    page.locator("#verify-form[data-ready]").wait_for()
    page.locator("#otp input").first.click()
    page.keyboard.type(_code_from_email(e2e_server, "wanjiru@example.com"), delay=10)
    page.wait_for_url("**/dashboard/")

    # Buy with the voucher: validating it fills in its value and the summary.
    page.get_by_role("link", name="Buy or sell").click()
    page.locator("#trade-form[data-ready]").wait_for()
    page.get_by_text("Voucher", exact=True).click()
    page.get_by_label("Voucher code").fill(voucher.plain_code)
    page.get_by_label("Voucher code").press("Tab")
    expect(page.locator("#voucher-status")).to_contain_text("Valid voucher for UGX 360,000")
    expect(page.get_by_label("Voucher value (UGX)")).to_have_value("360000")
    expect(page.locator("#sum-get")).to_contain_text("0.00099000 BTC")  # 1% fee
    shoot(page, "trade-voucher")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url("**/trades/*/")
    expect(page.locator("#trade-status")).to_have_text("Completed")
    assert voucher.plain_code not in page.content()

    # Sell part of it to the wallet.
    page.get_by_role("link", name="Trade", exact=True).click()
    page.locator("#trade-form[data-ready]").wait_for()
    page.get_by_text("Sell", exact=True).click()
    page.get_by_label("Amount of BTC to sell").fill("0.0005")
    expect(page.locator("#sum-get")).to_contain_text("UGX 179,100")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Sell now").click()
    page.wait_for_url("**/trades/*/")
    expect(page.locator("#trade-status")).to_have_text("Completed")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.locator('[data-balance="BTC"]')).to_have_text("0.00049000 BTC")
    expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 179,100")
    expect(page.locator("#recent-trades tr[data-trade]")).to_have_count(2)

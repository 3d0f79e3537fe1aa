"""Withdrawing to mobile money in a real browser, against the Relworx sandbox:
the Withdraw page, the emailed second-factor code, and the withdrawal turning
completed (or failed and refunded) on screen when the signed payout webhook
arrives; the Withdraw page axe-audited at 360 and 1280 px."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ledger.selectors import balance_get
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import UserFactory, fund_wallet
from wallet.models import PayoutNumber, Withdrawal

pytestmark = pytest.mark.django_db(transaction=True)

SUCCESS_NUMBER = "+256770000001"  # the sandbox pays it out, one webhook
PAYOUT_FAILS_NUMBER = "+256770000006"  # the sandbox's payouts to it fail


def _withdrawal_code(e2e_server, email: str) -> str:
    """The code in the last "Confirm your withdrawal" email the server sent to ``email``."""
    for message in reversed(e2e_server.emails()):
        if f"To: {email}" in message and "Confirm your withdrawal" in message:
            match = re.search(r"^\s+(\d{6})\s*$", message, re.MULTILINE)
            if match:
                return match.group(1)
    raise AssertionError(f"no withdrawal code emailed to {email}")


def _withdraw(page, e2e_server, user, *, phone: str, amount: str) -> None:
    """Fill in the Withdraw page, then confirm with the emailed code; ends on
    the withdrawal's page, marked to tell whether it is reloaded."""
    page.goto("/wallet/withdraw/")
    page.get_by_label("Currency").select_option("UGX")
    page.get_by_label("Amount").fill(amount)
    page.get_by_label("Mobile money", exact=True).check()
    page.get_by_label("Mobile money number (MTN or Airtel)").fill(phone)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/wallet/withdrawals/*/")
    expect(page.locator("#status")).to_have_text("Awaiting confirmation")
    page.get_by_label("6-digit code").fill(_withdrawal_code(e2e_server, user.email))
    page.get_by_role("button", name="Confirm withdrawal").click()
    expect(page.get_by_text("Confirmed: your withdrawal is on its way.")).to_be_visible()
    page.evaluate("() => { window.__sameDocument = true; }")


def test_a_mobile_money_withdrawal_completes_live(page, e2e_server, sign_in, shoot):
    user = UserFactory(email="nakato@example.com")
    fund_wallet(user, "UGX", "300000")
    sign_in(page, user)
    _withdraw(page, e2e_server, user, phone=SUCCESS_NUMBER, amount="100000")
    # The payout is on its way; the webhook settles it a few seconds later.
    expect(page.locator("#status")).to_have_text(re.compile("^(Processing|Completed)$"))
    expect(page.locator("#status")).to_have_text("Completed", timeout=25_000)
    assert page.evaluate("() => window.__sameDocument") is True
    expect(page.get_by_label("6-digit code")).to_have_count(0)
    expect(page.locator("#holder-name")).not_to_contain_text("before you confirm")
    shoot(page, "withdrawal-completed")

    withdrawal = Withdrawal.objects.get(user=user)
    assert withdrawal.status == "completed"
    assert withdrawal.net_amount == Decimal("99000")  # 1% fee
    assert balance_get(user=user, currency="UGX") == Decimal("200000")
    # Confirming the withdrawal confirmed the new number as a payout number.
    assert PayoutNumber.objects.get(user=user).status == "confirmed"
    page.goto("/wallet/withdraw/")
    expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 200,000")
    row = page.locator(f'[data-withdrawal="{withdrawal.public_id}"] [data-status]')
    expect(row).to_have_text("Completed")


def test_a_failed_payout_turns_failed_live_and_the_money_comes_back(
    page, e2e_server, sign_in, shoot
):
    user = UserFactory(email="okello@example.com")
    fund_wallet(user, "UGX", "300000")
    sign_in(page, user)
    _withdraw(page, e2e_server, user, phone=PAYOUT_FAILS_NUMBER, amount="120000")
    assert balance_get(user=user, currency="UGX") == Decimal("180000")  # held meanwhile
    status = page.locator("#status")
    expect(status).to_contain_text("Failed — refunded to your wallet", timeout=25_000)
    expect(status).to_contain_text("Payout rejected by the network.")
    assert page.evaluate("() => window.__sameDocument") is True
    # The confirmation's "on its way" no longer says where it stands.
    expect(page.get_by_text("Confirmed: your withdrawal is on its way.")).to_have_count(0)
    shoot(page, "withdrawal-failed")

    assert Withdrawal.objects.get(user=user).status == "failed"
    assert balance_get(user=user, currency="UGX") == Decimal("300000")
    page.goto("/wallet/withdraw/")
    expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 300,000")


def test_the_withdraw_page_shows_the_refunded_balance_live(page, e2e_server, sign_in):
    user = UserFactory(email="opio@example.com")
    fund_wallet(user, "UGX", "300000")
    sign_in(page, user)
    _withdraw(page, e2e_server, user, phone=PAYOUT_FAILS_NUMBER, amount="120000")
    # The sandbox answers the payout a few seconds after it was sent.
    page.goto("/wallet/withdraw/")
    balance = page.locator('[data-balance="UGX"]')
    expect(balance).to_have_text("UGX 180,000")  # held while it is paid out
    page.evaluate("() => { window.__sameDocument = true; }")
    withdrawal = Withdrawal.objects.get(user=user)
    row = page.locator(f'[data-withdrawal="{withdrawal.public_id}"] [data-status]')
    expect(row).to_contain_text("Failed", timeout=25_000)
    expect(balance).to_have_text("UGX 300,000")
    assert page.evaluate("() => window.__sameDocument") is True


def test_the_withdraw_page_on_a_phone_and_a_desktop(page, sign_in, shoot):
    user = UserFactory(email="achieng@example.com")
    fund_wallet(user, "UGX", "250000")
    sign_in(page, user)
    # Loaded at each width, so the accessibility audit runs at each.
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.goto("/wallet/withdraw/")
        expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 250,000")
        assert page.get_by_role("button", name="Continue").is_visible()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the Withdraw page scrolls sideways by {overflow}px"
    shoot(page, "withdraw")

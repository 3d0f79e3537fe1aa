"""Adding money to the wallet in a real browser, against the Relworx sandbox:
the top-up's page turns completed on screen when the signed webhook arrives,
and the Wallet page shows the new balance (axe-audited, 360 and 1280 px)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ledger.selectors import balance_get
from tests.factories import UserFactory
from wallet.models import Deposit

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_mobile_money_top_up_completes_live(page, sign_in, shoot):
    user = UserFactory(email="akello@example.com")
    sign_in(page, user)
    page.goto("/wallet/")
    shoot(page, "wallet")
    page.get_by_label("Mobile money (UGX)").check()
    page.get_by_label("Currency").select_option("UGX")
    page.get_by_label("Amount you pay (fee included)").fill("40000")
    page.get_by_label("Mobile money number").fill("+256770000001")
    page.get_by_role("button", name="Add money").click()
    page.wait_for_url("**/wallet/top-ups/*/")
    page.evaluate("() => { window.__sameDocument = true; }")
    status = page.locator("#deposit-detail [data-status]")
    expect(status).to_have_text("Completed", timeout=25_000)
    assert page.evaluate("() => window.__sameDocument") is True
    shoot(page, "wallet-top-up-completed")
    deposit = Deposit.objects.get(user=user)
    assert deposit.status == "completed"
    assert balance_get(user=user, currency="UGX") == Decimal("39000")
    page.goto("/wallet/")
    expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 39,000")

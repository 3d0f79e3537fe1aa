"""Paying with a voucher in a real browser: the code is checked as it is
entered (unknown → refused, good → its value fills the amount), then the buy
completes at once."""

from decimal import Decimal

import pytest

from ledger.selectors import balance_get
from tests.factories import UserFactory, VoucherFactory, fund_reserves, set_prices
from vouchers.models import Voucher

pytestmark = pytest.mark.django_db(transaction=True)


def test_check_a_voucher_then_buy_with_it(page, sign_in, shoot):
    set_prices()
    fund_reserves()
    user = UserFactory(email="wasswa@example.com")
    voucher = VoucherFactory(amount="50000", currency="UGX")
    sign_in(page, user)
    page.goto("/trade/")
    page.locator("#id_fiat_currency").select_option("UGX")
    page.locator("#method-voucher").check()
    status = page.locator("#voucher-status")

    code = page.get_by_label("Voucher code")
    code.fill("DTX-2345-6789-ABCD-EFGH-JKMN")
    code.blur()
    page.wait_for_function(
        "() => document.querySelector('#voucher-status').dataset.valid === 'false'"
    )
    assert "cannot be used" in status.inner_text()

    code.fill(voucher.plain_code.lower())
    code.blur()
    page.wait_for_function(
        "() => document.querySelector('#voucher-status').dataset.valid === 'true'"
    )
    assert status.inner_text().startswith("Valid voucher for UGX 50,000")
    assert page.locator("#id_amount").input_value() == "50000"
    page.locator("#sum-get").get_by_text("0.00013750 BTC").wait_for()
    shoot(page, "trade-voucher")

    page.get_by_role("button", name="Review").click()
    page.get_by_role("heading", name="Confirm your purchase").wait_for()
    page.get_by_role("button", name="Confirm and pay").click()
    page.wait_for_url("**/trades/*/")
    assert page.locator("#trade-status").inner_text() == "Completed"
    assert balance_get(user=user, currency="BTC") == Decimal("0.0001375")
    assert Voucher.objects.get(pk=voucher.pk).status == "redeemed"

"""The account settings page in a real browser (axe-audited, 360 and 1280 px,
no sideways scrolling on a phone): add a payout number, read the code from
the sent email, confirm it."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory
from wallet.models import PayoutNumber

pytestmark = pytest.mark.django_db(transaction=True)


def _code_for(e2e_server, email: str, seen: int) -> str:
    """The 6-digit code of the first email to ``email`` after the first ``seen``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in e2e_server.emails()[seen:]:
            if email in message:
                match = re.search(r"^\s+(\d{6})\s*$", message, re.MULTILINE)
                if match:
                    return match.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no code emailed to {email}")


def test_add_and_confirm_a_payout_number_on_the_settings_page(page, e2e_server, sign_in, shoot):
    user = UserFactory(email="nankya@example.com", full_name="Grace Nankya")
    sign_in(page, user)
    page.goto("/dashboard/")
    page.get_by_role("link", name="Settings").click()
    page.wait_for_url("**/account/settings/")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.locator("#authenticator-state")).to_have_attribute("data-enrolled", "false")
    shoot(page, "settings")

    seen = len(e2e_server.emails())
    page.get_by_label("Mobile money number (MTN or Airtel)").fill("0700 000 001")
    page.get_by_role("button", name="Add a payout number").click()
    page.wait_for_url("**/account/settings/#payout-numbers-title")
    expect(page.get_by_text("We emailed you a 6-digit code")).to_be_visible()
    row = page.locator("[data-payout-number]")
    expect(row).to_have_attribute("data-status", "awaiting_confirmation")
    expect(row).to_contain_text("+25670*** ***001")
    expect(row).to_contain_text("SANDBOX CUSTOMER 0001")
    shoot(page, "settings-payout-number-pending")

    row.get_by_label("6-digit code").fill(_code_for(e2e_server, user.email, seen))
    row.get_by_role("button", name="Confirm +25670*** ***001").click()
    expect(page.get_by_text("is confirmed: we can pay you there")).to_be_visible()
    expect(page.locator("[data-payout-number]")).to_have_attribute("data-status", "confirmed")
    shoot(page, "settings-payout-number-confirmed")
    assert PayoutNumber.objects.get(user=user).status == "confirmed"

    # The sell form offers it (masked); the typed number is then not needed.
    page.get_by_role("link", name="Trade").click()
    page.locator("#trade-form[data-ready]").wait_for()
    page.get_by_text("Sell", exact=True).click()
    page.get_by_text("Mobile money (MTN, Airtel)").click()
    choice = page.get_by_label("Pay out to (when selling)")
    expect(choice).to_be_visible()
    expect(choice.locator("option:checked")).to_have_text(
        "+25670*** ***001 (SANDBOX CUSTOMER 0001)"
    )
    expect(page.get_by_label("Mobile money number")).to_be_hidden()
    choice.select_option("")
    expect(page.get_by_label("Mobile money number")).to_be_visible()
    expect(page.get_by_role("link", name="Add a payout number")).to_be_visible()

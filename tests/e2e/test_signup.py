"""Sign up in a real browser: the code comes from the email the server sent."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def _latest_code(e2e_server, email: str) -> str:
    for message in reversed(e2e_server.emails()):
        if email in message:
            match = re.search(r"^\s+(\d{6})\s*$", message, re.MULTILINE)
            if match:
                return match.group(1)
    raise AssertionError(f"no verification email for {email}")


def test_sign_up_read_the_emailed_code_paste_it_and_land_on_the_dashboard(page, e2e_server, shoot):
    from accounts.models import User

    page.goto("/")
    page.get_by_role("link", name="Create your account").click()
    page.get_by_label("Email address").fill("amina@example.com")
    page.get_by_label("Password").fill("kampala-sunrise-42")
    shoot(page, "signup")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/verify/")
    assert page.get_by_text("amina@example.com").is_visible()
    # The resend button waits out the interval, counting down.
    expect(page.locator("#resend")).to_be_disabled()
    expect(page.locator("#resend-countdown")).to_contain_text("You can ask for a new code in")
    shoot(page, "verify")

    code = _latest_code(e2e_server, "amina@example.com")
    # Paste the whole code into the first box: it spreads over the six and submits.
    page.locator("#verify-form[data-ready]").wait_for()
    page.locator("#otp input").first.focus()
    page.evaluate(
        """code => {
            const box = document.querySelector('#otp input');
            const data = new DataTransfer();
            data.setData('text', code);
            const init = {clipboardData: data, bubbles: true, cancelable: true};
            box.dispatchEvent(new ClipboardEvent('paste', init));
        }""",
        code,
    )
    page.wait_for_url("**/dashboard/")
    assert page.get_by_text("Your email is verified").is_visible()
    assert page.get_by_role("heading", name="Your money").is_visible()
    assert User.objects.get(email="amina@example.com").is_email_verified
    shoot(page, "dashboard-empty")


def test_typing_digit_by_digit_moves_along_the_boxes(page, e2e_server):
    page.goto("/signup/")
    page.get_by_label("Email address").fill("okello@example.com")
    page.get_by_label("Password").fill("entebbe-runway-77")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/verify/")
    code = _latest_code(e2e_server, "okello@example.com")
    page.locator("#verify-form[data-ready]").wait_for()
    page.locator("#otp input").first.click()
    page.keyboard.type(code, delay=20)
    page.wait_for_url("**/dashboard/")

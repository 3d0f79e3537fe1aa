"""Payout numbers and the identity check on the account settings page,
without JavaScript: add a number, confirm it with the emailed code (or the
authenticator's), remove it; someone else's number is a 404."""

import re

import pytest
from django.test import Client

from tests.factories import UserFactory, emailed_code
from tests.staff import totp_code
from tests.wallet.helpers import PHONE
from wallet.models import PayoutNumber, TierRequest, WalletProfile

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS = "/account/settings/"
ADD = "/account/settings/payout-numbers/"


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def _confirm_url(number) -> str:
    return f"/account/settings/payout-numbers/{number.public_id}/confirm/"


def _delete_url(number) -> str:
    return f"/account/settings/payout-numbers/{number.public_id}/delete/"


def test_add_then_confirm_with_the_emailed_code(relworx, user, browser):
    r = browser.post(ADD, {"phone_number": "0700 000 001"})
    assert r.status_code == 302 and r["Location"] == SETTINGS + "#payout-numbers-title"
    number = PayoutNumber.objects.get(user=user)
    assert number.status == "awaiting_confirmation" and number.second_factor == "email"
    page = browser.get(SETTINGS).content.decode()
    assert "We emailed you a 6-digit code" in page
    assert "+25670*** ***001" in page and "SANDBOX CUSTOMER 0001" in page
    assert "Awaiting confirmation" in page and f'action="{_confirm_url(number)}"' in page
    assert "0700000001" not in page and "+256700000001" not in page  # only masked

    wrong = browser.post(_confirm_url(number), {"code": "000000"})
    assert wrong.status_code == 400
    assert "That code is not right. 4 tries left." in wrong.content.decode()
    number.refresh_from_db()
    assert number.status == "awaiting_confirmation"

    short = browser.post(_confirm_url(number), {"code": "12"})
    assert short.status_code == 400 and "errorlist" in short.content.decode()

    r = browser.post(_confirm_url(number), {"code": emailed_code(user.email)}, follow=True)
    html = r.content.decode()
    assert "is confirmed: we can pay you there" in html
    number.refresh_from_db()
    assert number.status == "confirmed"
    row = re.search(r'<li data-payout-number="[^"]+" data-status="(\w+)">', html)
    assert row[1] == "confirmed"
    assert f'action="{_confirm_url(number)}"' not in html  # nothing left to confirm


def test_adding_a_confirmed_number_again_says_so(relworx, user, browser):
    from tests.factories import confirm_payout_number

    confirm_payout_number(user, PHONE)
    r = browser.post(ADD, {"phone_number": PHONE}, follow=True)
    assert "is already a confirmed number" in r.content.decode()
    assert PayoutNumber.objects.filter(user=user).count() == 1


def test_with_an_authenticator_the_code_comes_from_the_app(relworx, user, browser):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    r = browser.post(ADD, {"phone_number": PHONE}, follow=True)
    assert "Enter the code from your authenticator app" in r.content.decode()
    number = PayoutNumber.objects.get(user=user)
    assert number.second_factor == "totp"
    r = browser.post(_confirm_url(number), {"code": totp_code(device)})
    assert r.status_code == 302
    number.refresh_from_db()
    assert number.status == "confirmed"


@pytest.mark.parametrize(
    ("phone", "says"),
    [("", "This field is required"), ("+256711234567", "MTN"), ("+254712345678", "")],
)
def test_a_bad_number_is_shown_on_the_form(relworx, user, browser, phone, says):
    r = browser.post(ADD, {"phone_number": phone})
    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="id_phone_number_error"' in html and says in html
    assert PayoutNumber.objects.count() == 0


def test_the_last_wrong_code_removes_the_pending_number(relworx, user, browser, settings):
    settings.WITHDRAWAL_CODE_MAX_ATTEMPTS = 2
    browser.post(ADD, {"phone_number": PHONE})
    number = PayoutNumber.objects.get(user=user)
    assert "1 tries left" in browser.post(_confirm_url(number), {"code": "000000"}).content.decode()
    r = browser.post(_confirm_url(number), {"code": "000001"}, follow=True)
    assert "that was the last try" in r.content.decode()
    number.refresh_from_db()
    assert number.status == "deleted"
    assert browser.post(_confirm_url(number), {"code": "000002"}).status_code == 404


def test_remove_a_number(relworx, user, browser):
    from tests.factories import confirm_payout_number

    number = confirm_payout_number(user, PHONE)
    r = browser.post(_delete_url(number), follow=True)
    assert "nothing is paid to it any more" in r.content.decode()
    number.refresh_from_db()
    assert number.status == "deleted"
    assert "No payout numbers yet." in browser.get(SETTINGS).content.decode()
    assert browser.post(_delete_url(number)).status_code == 404


def test_someone_elses_number_is_404(relworx, user, browser):
    browser.post(ADD, {"phone_number": PHONE})
    number = PayoutNumber.objects.get(user=user)
    stranger = Client()
    stranger.force_login(UserFactory())
    assert (
        stranger.post(_confirm_url(number), {"code": emailed_code(user.email)}).status_code == 404
    )
    assert stranger.post(_confirm_url(number), {"code": "x"}).status_code == 404
    assert stranger.post(_delete_url(number)).status_code == 404
    assert PHONE[-3:] not in stranger.get(SETTINGS).content.decode()
    number.refresh_from_db()
    assert number.status == "awaiting_confirmation"


def test_an_unverified_account_sees_no_wallet_settings():
    unverified = UserFactory(email_verified_at=None)
    client = Client()
    client.force_login(unverified)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert "Payout numbers" not in page.content.decode()
    assert client.post(ADD, {"phone_number": PHONE})["Location"] == "/verify/"


def test_ask_for_the_identity_check_from_settings(user, browser):
    page = browser.get(SETTINGS).content.decode()
    assert 'data-tier="1"' in page and 'id="settings-tier-request-form"' in page
    r = browser.post("/wallet/tier-request/", {"note": "passport", "back": "settings"})
    assert r.status_code == 302 and r["Location"] == SETTINGS + "#tier-title"
    assert TierRequest.objects.get(user=user).note == "passport"
    page = browser.get(SETTINGS).content.decode()
    assert "with our team" in page and 'id="settings-tier-request-form"' not in page
    again = browser.post("/wallet/tier-request/", {"back": "settings"}, follow=True)
    assert "already waiting" in again.content.decode()
    assert TierRequest.objects.filter(user=user).count() == 1
    # From the Wallet page it still goes back to the Wallet page.
    assert browser.post("/wallet/tier-request/", {})["Location"] == "/wallet/"


def test_at_tier_2_there_is_nothing_to_ask(user, browser):
    WalletProfile.objects.update_or_create(user=user, defaults={"granted_tier": 2})
    page = browser.get(SETTINGS).content.decode()
    assert 'data-tier="2"' in page and "your identity is checked" in page
    assert 'id="settings-tier-request-form"' not in page

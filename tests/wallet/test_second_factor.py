"""The second factor of withdrawals: an authenticator app (real TOTP secrets,
enrolled through the API) or an emailed code; wrong codes count, five cancel
the withdrawal and return the money; the daily cap on wrong codes holds."""

import base64
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory, emailed_code, fund_wallet
from tests.staff import totp_code
from tests.wallet.helpers import api_for, assert_reconciles, balance, postings, withdraw
from wallet.models import Withdrawal

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user():
    u = UserFactory()
    fund_wallet(u, "UGX", "1000000")
    return u


def _enrol(api, user) -> TOTPDevice:
    r = api.post("/api/auth/me/authenticator")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert body["qr_code"].startswith("data:image/svg+xml;base64,")
    # What the app does with the secret it scanned: RFC 6238 over the secret.
    padded = body["secret"] + "=" * (-len(body["secret"]) % 8)
    key = base64.b32decode(padded)
    code = f"{totp(key):06d}"
    r = api.post("/api/auth/me/authenticator/confirm", {"code": code}, format="json")
    assert r.status_code == 204, r.json()
    return TOTPDevice.objects.get(confirmed=True, user=user)


def _after_cooldown(user):
    type(user).objects.filter(pk=user.pk).update(
        second_factor_changed_at=timezone.now() - timedelta(hours=25)
    )
    user.refresh_from_db()


def test_a_withdrawal_is_confirmed_with_the_authenticator_app(relworx, user):
    api = api_for(user)
    device = _enrol(api, user)
    # A new authenticator holds withdrawals back for a day.
    r = withdraw(api)
    assert r.status_code == 409 and r.json()["error"]["code"] == "security_cooldown"
    _after_cooldown(user)
    from django.core import mail

    mail.outbox.clear()
    w = withdraw(api).json()
    assert w["second_factor"] == "totp"
    assert not [m for m in mail.outbox if "Confirm your" in m.subject]  # nothing emailed
    r = api.post(
        f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": totp_code(device)}, format="json"
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "processing"


def test_a_wrong_app_code_counts_and_the_right_one_still_works(relworx, user):
    api = api_for(user)
    device = _enrol(api, user)
    _after_cooldown(user)
    w = withdraw(api).json()
    right = totp_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": wrong}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_code"
    assert r.json()["error"]["details"]["attempts_left"] == 4
    time.sleep(1.1)  # django-otp's pause after a wrong code
    r = api.post(
        f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": totp_code(device)}, format="json"
    )
    assert r.status_code == 200 and r.json()["status"] == "processing"


def test_an_emailed_code_of_another_withdrawal_does_not_confirm(relworx, user):
    api = api_for(user)
    first = withdraw(api, amount="10000").json()
    first_code = emailed_code(user.email)
    second = withdraw(api, amount="20000").json()
    r = api.post(
        f"/api/wallet/withdrawals/{second['id']}/confirm", {"code": first_code}, format="json"
    )
    assert r.status_code == 400  # each code is bound to its own withdrawal
    r = api.post(
        f"/api/wallet/withdrawals/{first['id']}/confirm", {"code": first_code}, format="json"
    )
    assert r.status_code == 200


def test_five_wrong_codes_cancel_the_withdrawal_and_return_the_money(relworx, user):
    api = api_for(user)
    w = withdraw(api).json()
    right = emailed_code(user.email)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    lefts = []
    for _ in range(5):
        r = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": wrong}, format="json")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_code"
        lefts.append(r.json()["error"]["details"]["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    assert Withdrawal.objects.get(public_id=w["id"]).status == "cancelled"
    assert balance(user) == D("1000000")
    assert postings(w["id"], "return") == 1
    # The right code cannot bring it back.
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": right}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_awaiting_confirmation"
    assert not [h for h in relworx.hits if h[1].endswith("send-payment")]
    assert_reconciles()


def test_the_daily_cap_on_wrong_codes_refuses_even_the_right_one(relworx, user, settings):
    settings.EMAIL_CODE_MAX_FAILURES_PER_DAY = 2
    api = api_for(user)
    w = withdraw(api).json()
    right = emailed_code(user.email)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(2):
        api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": wrong}, format="json")
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": right}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_code"
    assert Withdrawal.objects.get(public_id=w["id"]).status == "awaiting_confirmation"


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "١٢٣٤٥٦", 123456, ""])
def test_a_malformed_code_is_400_and_does_not_count(relworx, user, code):
    api = api_for(user)
    w = withdraw(api).json()
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": code}, format="json")
    assert r.status_code == 400
    assert Withdrawal.objects.get(public_id=w["id"]).code_failures == 0


def test_removing_the_authenticator_takes_a_code_and_holds_withdrawals_back(relworx, user):
    api = api_for(user)
    device = _enrol(api, user)
    _after_cooldown(user)
    r = api.post("/api/auth/me/authenticator/remove", {"code": "000000"}, format="json")
    assert r.status_code == 400
    time.sleep(1.1)
    r = api.post("/api/auth/me/authenticator/remove", {"code": totp_code(device)}, format="json")
    assert r.status_code == 204
    assert not TOTPDevice.objects.filter(user=user).exists()
    user.refresh_from_db()
    r = withdraw(api)
    assert r.status_code == 409 and r.json()["error"]["code"] == "security_cooldown"


def test_an_unfinished_enrolment_does_not_replace_the_emailed_code(relworx, user):
    api = api_for(user)
    assert api.post("/api/auth/me/authenticator").status_code == 201
    r = api.post("/api/auth/me/authenticator/confirm", {"code": "000000"}, format="json")
    assert r.status_code == 400
    w = withdraw(api).json()
    assert w["second_factor"] == "email"


def test_the_account_settings_page_enrols_an_authenticator_without_javascript(user):
    import re

    from django.test import Client

    browser = Client()
    browser.force_login(user)
    assert 'id="totp-off"' in browser.get("/account/authenticator/").content.decode()
    page = browser.post("/account/authenticator/", {"action": "start"}).content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    r = browser.post(
        "/account/authenticator/", {"action": "confirm", "code": f"{totp(key):06d}"}, follow=True
    )
    assert 'id="totp-on"' in r.content.decode()
    assert TOTPDevice.objects.get(user=user).confirmed
    user.refresh_from_db()
    assert user.second_factor_changed_at is not None

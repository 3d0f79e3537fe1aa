"""The account settings page without JavaScript: the name, the password
(current one checked, validators, every other session and refresh token
ended, the withdrawal cooldown started, the alert emailed) and the state of
the authenticator app."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_wallet
from tests.payments.conftest import make_sandbox  # noqa: F401 (fixture)
from tests.wallet.helpers import PHONE

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "mbarara-hills-2031"


@pytest.fixture
def relworx(make_sandbox):  # noqa: F811
    return make_sandbox()


@pytest.fixture
def user():
    return UserFactory(full_name="Ada Nakato")


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def _change(browser, current=DEFAULT_PASSWORD, new=NEW_PASSWORD, again=None):
    return browser.post(
        "/account/settings/password/",
        {
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
        },
    )


def _refresh_token(user) -> str:
    r = APIClient().post(
        "/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert r.status_code == 200, r.json()
    return r.json()["refresh"]


def test_the_page_is_in_the_navigation_and_needs_a_sign_in(user, browser):
    assert Client().get("/account/settings/")["Location"].startswith("/login/")
    page = browser.get("/dashboard/").content.decode()
    assert 'href="/account/settings/"' in page
    page = browser.get("/account/settings/").content.decode()
    assert 'aria-current="page">Settings' in page
    assert 'value="Ada Nakato"' in page
    assert page.count('name="csrfmiddlewaretoken"') >= 2
    assert 'data-enrolled="false"' in page and 'href="/account/authenticator/"' in page


def test_the_page_says_when_an_authenticator_is_enrolled(user, browser):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    page = browser.get("/account/settings/").content.decode()
    assert 'data-enrolled="true"' in page and "Remove or replace" in page


def test_change_the_name(user, browser):
    r = browser.post("/account/settings/name/", {"full_name": "  Ada   Nakato Okello "})
    assert r.status_code == 302 and r["Location"] == "/account/settings/"
    user.refresh_from_db()
    assert user.full_name == "Ada Nakato Okello"
    assert "Your name is saved." in browser.get("/account/settings/").content.decode()


def test_a_name_too_long_is_shown_on_the_form(user, browser):
    r = browser.post("/account/settings/name/", {"full_name": "x" * 151})
    assert r.status_code == 400
    assert 'id="id_full_name_error"' in r.content.decode()
    user.refresh_from_db()
    assert user.full_name == "Ada Nakato"


def test_forms_without_a_csrf_token_are_refused(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/account/settings/name/", {"full_name": "X"}).status_code == 403
    assert strict.post("/account/settings/password/", {}).status_code == 403


def test_a_wrong_current_password_changes_nothing(user, browser):
    r = _change(browser, current="not-my-password")
    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="id_current_password_error"' in html and "password is not correct" in html
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD) and user.password_changed_at is None


@pytest.mark.parametrize(
    ("new", "again", "says"),
    [
        ("short1", None, "too short"),
        ("password123", None, "too common"),
        ("83749261038", None, "entirely numeric"),
        (NEW_PASSWORD, "something-else-77", "not the same"),
    ],
)
def test_a_weak_or_mistyped_new_password_is_refused(user, browser, new, again, says):
    r = _change(browser, new=new, again=again)
    assert r.status_code == 400
    assert says in r.content.decode()
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD) and user.password_changed_at is None


def test_a_password_change_ends_every_other_session_and_token(relworx, user, browser):
    other = Client()
    other.force_login(user)
    assert other.get("/account/settings/").status_code == 200
    refresh = _refresh_token(user)
    mail.outbox.clear()

    r = _change(browser)
    assert r.status_code == 302 and r["Location"] == "/account/settings/"
    # This browser stays signed in; the other one is signed out.
    page = browser.get("/account/settings/")
    assert page.status_code == 200 and "Your password is changed" in page.content.decode()
    assert other.get("/account/settings/")["Location"].startswith("/login/")
    # The refresh token issued before is refused.
    r = APIClient().post("/api/auth/token/refresh", {"refresh": refresh}, format="json")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert timezone.now() - user.password_changed_at < timedelta(minutes=1)
    assert [m for m in mail.outbox if "Your password was changed" in m.subject]
    # The new password signs in; the old one no longer does.
    assert Client().login(username=user.email, password=NEW_PASSWORD)
    assert not Client().login(username=user.email, password=DEFAULT_PASSWORD)


def test_after_a_password_change_withdrawals_wait(relworx, user, browser):
    fund_wallet(user, "UGX", "300000")
    assert _change(browser).status_code == 302
    form = {"currency": "UGX", "amount": "100000", "method": "mobile_money", "phone_number": PHONE}
    r = browser.post("/wallet/withdraw/", form)
    assert r.status_code == 200
    assert "paused for a while after a password" in r.content.decode()
    from wallet.models import Withdrawal

    assert Withdrawal.objects.count() == 0
    # A day later the same withdrawal goes ahead.
    User.objects.filter(pk=user.pk).update(password_changed_at=timezone.now() - timedelta(hours=25))
    assert browser.post("/wallet/withdraw/", form).status_code == 302


def test_password_tries_are_rate_limited(user, browser, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth_account": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    assert _change(browser, current="wrong-1").status_code == 400
    assert _change(browser, current="wrong-2").status_code == 400
    assert _change(browser).status_code == 429
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)

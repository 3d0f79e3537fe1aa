"""The site's Withdraw page: plain HTML forms (no JavaScript needed)."""

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import UserFactory, emailed_code, fund_wallet
from tests.wallet.helpers import PHONE, balance
from wallet.errors import AccountLocked
from wallet.models import Withdrawal
from wallet.services import withdrawal_create

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user():
    u = UserFactory()
    fund_wallet(u, "UGX", "300000")
    return u


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


FORM = {"currency": "UGX", "amount": "100000", "method": "mobile_money", "phone_number": PHONE}


def test_withdraw_confirm_with_the_emailed_code(relworx, user, browser):
    page = browser.get("/wallet/withdraw/").content.decode()
    assert 'id="withdraw-form"' in page and "UGX 300,000" in page
    r = browser.post("/wallet/withdraw/", FORM)
    assert r.status_code == 302
    withdrawal = Withdrawal.objects.get(user=user)
    detail = browser.get(r["Location"]).content.decode()
    assert "did not tell us whose number this is" in detail  # MTN: validate cannot name it
    assert "UGX 99,000" in detail and 'id="confirm-form"' in detail
    r = browser.post(r["Location"], {"code": emailed_code(user.email)}, follow=True)
    assert "on its way" in r.content.decode()
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "processing"
    assert balance(user) == D("200000")


def test_a_wrong_code_and_cancel_on_the_page(relworx, user, browser):
    r = browser.post("/wallet/withdraw/", FORM)
    detail_url = r["Location"]
    r = browser.post(detail_url, {"code": "000000"}, follow=True)
    assert "not right" in r.content.decode()
    r = browser.post(detail_url.rstrip("/") + "/cancel/", follow=True)
    assert "back in your wallet" in r.content.decode()
    assert balance(user) == D("300000")


def test_bad_input_is_shown_on_the_form_and_nothing_moves(relworx, user, browser):
    r = browser.post("/wallet/withdraw/", {**FORM, "amount": "900000"})
    assert r.status_code == 200
    assert "balance is too low" in r.content.decode()
    r = browser.post("/wallet/withdraw/", {**FORM, "phone_number": "0711234567"})
    assert "MTN or Airtel" in r.content.decode()
    assert Withdrawal.objects.count() == 0 and balance(user) == D("300000")


def test_someone_elses_withdrawal_page_is_404(relworx, user, browser):
    browser.post("/wallet/withdraw/", FORM)
    withdrawal = Withdrawal.objects.get(user=user)
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(f"/wallet/withdrawals/{withdrawal.public_id}/").status_code == 404


def test_a_locked_account_cannot_withdraw(relworx, user):
    user.set_unusable_password()
    user.save()
    with pytest.raises(AccountLocked):
        withdrawal_create(
            user=user,
            currency="UGX",
            amount=D("100000"),
            method="mobile_money",
            destination={"phone_number": PHONE},
        )
    assert balance(user) == D("300000")

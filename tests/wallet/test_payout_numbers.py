"""Payout numbers (POST/GET/DELETE, confirm with the second factor), and the
rule they enforce: a sale paid out by mobile money goes only to a confirmed
number of the seller's (409 payout_number_unconfirmed, nothing written)."""

from decimal import Decimal

import pytest

from ledger.selectors import balance_get
from notifications.models import OutboxEvent
from payments.models import MobileMoneyPayment
from tests.factories import (
    UserFactory,
    confirm_payout_number,
    emailed_code,
    fund_reserves,
    fund_wallet,
    ledger_rows,
    set_prices,
)
from tests.wallet.helpers import PHONE, api_for
from trading.models import Trade
from wallet.models import PayoutNumber

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)

SELL = {
    "crypto_currency": "BTC",
    "fiat_currency": "UGX",
    "amount": "0.001",
    "payment_method": "mobile_money",
    "payment_details": {"phone_number": PHONE},
}


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def api(user):
    return api_for(user)


def test_add_confirm_list_and_delete_a_payout_number(relworx, user, api):
    r = api.post("/api/wallet/payout-numbers", {"phone_number": "0700 000 001"}, format="json")
    assert r.status_code == 201, r.json()
    number = r.json()
    assert number["status"] == "awaiting_confirmation"
    assert number["phone_number"] == "+25670*** ***001"
    assert number["holder_name"] == "SANDBOX CUSTOMER 0001"  # from Relworx's validate
    assert number["second_factor"] == "email"
    wrong = api.post(
        f"/api/wallet/payout-numbers/{number['id']}/confirm", {"code": "000000"}, format="json"
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["details"]["attempts_left"] == 4
    r = api.post(
        f"/api/wallet/payout-numbers/{number['id']}/confirm",
        {"code": emailed_code(user.email)},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    again = api.post(
        f"/api/wallet/payout-numbers/{number['id']}/confirm", {"code": "123456"}, format="json"
    )
    assert again.status_code == 409
    listed = api.get("/api/wallet/payout-numbers").json()["payout_numbers"]
    assert [n["id"] for n in listed] == [number["id"]]
    assert OutboxEvent.objects.filter(kind="email.security_alert", user_id=user.pk).exists()
    stranger = api_for(UserFactory())
    assert stranger.delete(f"/api/wallet/payout-numbers/{number['id']}").status_code == 404
    assert stranger.get("/api/wallet/payout-numbers").json()["payout_numbers"] == []
    assert api.delete(f"/api/wallet/payout-numbers/{number['id']}").status_code == 204
    assert api.get("/api/wallet/payout-numbers").json()["payout_numbers"] == []
    assert api.delete(f"/api/wallet/payout-numbers/{number['id']}").status_code == 404


def test_an_mtn_number_has_no_holder_name(relworx, api):
    r = api.post("/api/wallet/payout-numbers", {"phone_number": PHONE}, format="json")
    assert r.status_code == 201 and r.json()["holder_name"] is None


@pytest.mark.parametrize(
    ("phone", "code"),
    [
        ("+256711234567", "unsupported_network"),
        ("+254712345678", "invalid_phone_number"),
        ("", "invalid_phone_number"),
    ],
)
def test_a_bad_number_is_400_and_nothing_is_saved(relworx, api, phone, code):
    r = api.post("/api/wallet/payout-numbers", {"phone_number": phone}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert PayoutNumber.objects.count() == 0


@pytest.fixture
def seller(user):
    set_prices()
    fund_reserves()
    fund_wallet(user, "BTC", "0.01")
    return user


def _nothing_written(before, user):
    assert ledger_rows() == before
    assert Trade.objects.count() == 0 and MobileMoneyPayment.objects.count() == 0
    assert balance_get(user=user, currency="BTC") == D("0.01")


def test_a_sell_to_an_unconfirmed_number_is_409_and_writes_nothing(relworx, seller, api):
    before = ledger_rows()
    r = api.post("/api/trading/sell", SELL, format="json")
    assert r.status_code == 409, r.json()
    error = r.json()["error"]
    assert error["code"] == "payout_number_unconfirmed"
    assert error["details"]["confirm_route"] == "POST /api/wallet/payout-numbers/{id}/confirm"
    assert error["details"]["add_route"] == "POST /api/wallet/payout-numbers"
    _nothing_written(before, seller)


def test_a_pending_or_deleted_number_counts_as_unconfirmed(relworx, seller, api):
    pending = api.post("/api/wallet/payout-numbers", {"phone_number": PHONE}, format="json").json()
    before = ledger_rows()
    r = api.post("/api/trading/sell", SELL, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["details"]["payout_number_id"] == pending["id"]
    _nothing_written(before, seller)
    number = confirm_payout_number(seller, PHONE)
    api.delete(f"/api/wallet/payout-numbers/{number.public_id}")
    r = api.post("/api/trading/sell", SELL, format="json")
    assert r.status_code == 409
    _nothing_written(before, seller)


def test_another_users_confirmed_number_does_not_count(relworx, seller, api):
    confirm_payout_number(UserFactory(), PHONE)
    r = api.post("/api/trading/sell", SELL, format="json")
    assert r.status_code == 409


def test_a_malformed_or_foreign_number_is_still_400_first(relworx, seller, api):
    for phone, code in (
        ("+254712345678", "invalid_phone_number"),
        ("0711234567", "unsupported_network"),
    ):
        body = {**SELL, "payment_details": {"phone_number": phone}}
        r = api.post("/api/trading/sell", body, format="json")
        assert r.status_code == 400 and r.json()["error"]["code"] == code


def test_a_sell_to_a_confirmed_number_keeps_its_contract(relworx, seller, api):
    confirm_payout_number(seller, "0770 000 001")  # any spelling: the normalised number counts
    r = api.post("/api/trading/sell", SELL, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["trade_type"] == "sell" and body["payment_method"] == "mobile_money"
    assert "payout_number" not in str(body)
    assert MobileMoneyPayment.objects.filter(direction="payout").count() == 1

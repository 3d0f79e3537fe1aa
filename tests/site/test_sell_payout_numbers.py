"""Selling by mobile money on the trade page, without JavaScript: the seller
picks one of their confirmed payout numbers (shown masked), or types a
number; an unconfirmed one is refused with the way to confirm it."""

from decimal import Decimal

import pytest

from ledger.selectors import balance_get
from payments.models import MobileMoneyPayment
from tests.factories import UserFactory, confirm_payout_number, fund_wallet
from tests.payments.conftest import make_sandbox  # noqa: F401 (fixture)
from tests.site.trade_form import confirm_fields, review_step
from tests.wallet.helpers import PHONE
from trading.models import Trade

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("prices", "reserves"),
]

SELL = {
    "trade_type": "sell",
    "crypto_currency": "BTC",
    "fiat_currency": "UGX",
    "amount": "0.001",
    "payment_method": "mobile_money",
}


@pytest.fixture
def relworx(make_sandbox):  # noqa: F811
    return make_sandbox()


@pytest.fixture
def seller(customer):
    fund_wallet(customer, "BTC", "0.01")
    return customer


def test_the_sell_form_offers_the_confirmed_numbers_masked(relworx, seller, signed_in):
    number = confirm_payout_number(seller, PHONE)
    html = signed_in.get("/trade/").content.decode()
    assert f'<option value="{number.public_id}" selected>{number.phone_masked}</option>' in html
    assert PHONE not in html
    assert 'href="/account/settings/#payout-numbers-title">Add a payout number</a>' in html


def test_without_numbers_the_form_still_links_to_add_one(relworx, seller, signed_in):
    html = signed_in.get("/trade/").content.decode()
    assert 'name="payout_number"' not in html
    assert ">Add a payout number</a>" in html


def test_sell_to_a_chosen_payout_number(relworx, seller, signed_in):
    number = confirm_payout_number(seller, PHONE)
    review = review_step(signed_in, {**SELL, "payout_number": str(number.public_id)})
    html = review.content.decode()
    assert "Confirm your sale" in html and number.phone_masked in html
    assert PHONE not in html  # the confirm step carries the id, not the number
    done = signed_in.post("/trade/", confirm_fields(review))
    assert done.status_code == 302, done.content.decode()[:3000]
    trade = Trade.objects.get(user=seller)
    assert trade.payment_method == "mobile_money"
    assert trade.payment_details["phone_masked"] == number.phone_masked
    payment = MobileMoneyPayment.objects.get(trade_id=trade.pk)
    assert payment.direction == "payout"
    assert balance_get(user=seller, currency="BTC") == Decimal("0.009")


def test_a_sell_to_an_unconfirmed_number_says_how_to_confirm_it(relworx, seller, signed_in):
    review = review_step(signed_in, {**SELL, "phone_number": PHONE})
    r = signed_in.post("/trade/", confirm_fields(review))
    assert r.status_code == 409
    html = r.content.decode()
    assert 'id="payout-unconfirmed"' in html
    assert "+25677*** ***001 is not one yet" in html
    assert (
        'href="/account/settings/#payout-numbers-title">Add a payout number</a> in Settings' in html
    )
    assert Trade.objects.count() == 0
    assert balance_get(user=seller, currency="BTC") == Decimal("0.01")


def test_a_typed_confirmed_number_still_sells(relworx, seller, signed_in):
    confirm_payout_number(seller, PHONE)
    review = review_step(signed_in, {**SELL, "phone_number": PHONE, "payout_number": ""})
    assert signed_in.post("/trade/", confirm_fields(review)).status_code == 302
    assert Trade.objects.filter(user=seller).count() == 1


def test_a_chosen_and_a_typed_number_together_are_refused(relworx, seller, signed_in):
    number = confirm_payout_number(seller, PHONE)
    r = signed_in.post(
        "/trade/",
        {
            **SELL,
            "step": "review",
            "payout_number": str(number.public_id),
            "phone_number": "+256770000002",
        },
    )
    assert r.status_code == 400
    assert "not both" in r.content.decode()


def test_someone_elses_or_a_removed_number_cannot_be_chosen(relworx, seller, signed_in):
    theirs = confirm_payout_number(UserFactory(), PHONE)
    r = signed_in.post(
        "/trade/", {**SELL, "step": "review", "payout_number": str(theirs.public_id)}
    )
    assert r.status_code == 400
    assert "not one of your confirmed payout numbers" in r.content.decode()
    # Removed between the review and the confirm step.
    mine = confirm_payout_number(seller, PHONE)
    review = review_step(signed_in, {**SELL, "payout_number": str(mine.public_id)})
    from wallet.services import payout_number_delete

    payout_number_delete(user=seller, number_id=mine.public_id)
    r = signed_in.post("/trade/", confirm_fields(review))
    assert r.status_code == 400
    assert "not one of your confirmed payout numbers" in r.content.decode()
    assert Trade.objects.count() == 0


def test_a_buy_by_mobile_money_ignores_the_payout_choice(relworx, seller, signed_in):
    number = confirm_payout_number(seller, PHONE)
    review = review_step(
        signed_in,
        {
            **SELL,
            "trade_type": "buy",
            "amount": "50000",
            "phone_number": "+256770000002",
            "payout_number": str(number.public_id),
        },
    )
    assert "+256770000002" in review.content.decode()

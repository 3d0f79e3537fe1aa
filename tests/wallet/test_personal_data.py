"""The wallet's part of a person's data export and erasure."""

from decimal import Decimal

import pytest

from tests.factories import UserFactory, confirm_payout_number, fund_wallet
from tests.wallet.helpers import PHONE
from wallet import personal_data
from wallet.models import Withdrawal
from wallet.services import withdrawal_create

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def test_export_shows_and_erasure_removes_the_payout_details(relworx):
    user = UserFactory()
    fund_wallet(user, "UGX", "500000")
    confirm_payout_number(user, PHONE)
    withdrawal = withdrawal_create(
        user=user,
        currency="UGX",
        amount=D("100000"),
        method="mobile_money",
        destination={"phone_number": PHONE},
    )
    data = personal_data.export(user)
    assert data["payout_numbers"][0]["phone_number"] == PHONE
    assert data["withdrawals"][0]["destination"]["phone_number"] == PHONE
    assert personal_data.blockers(user, False)[0]["code"] == "withdrawal_in_flight"
    Withdrawal.objects.filter(pk=withdrawal.pk).update(status="cancelled")
    assert personal_data.blockers(user, False) == []
    assert personal_data.erase(user, False) == {
        "payout_numbers_removed": 1,
        "withdrawal_details_removed": 1,
    }
    again = personal_data.export(user)
    assert again["payout_numbers"][0]["phone_number"] == ""
    assert PHONE not in str(again)

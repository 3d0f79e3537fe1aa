"""The wallet's part of a person's data export and erasure."""

from decimal import Decimal

import pytest

from accounts.services import user_data_export, user_erase
from tests.factories import DEFAULT_PASSWORD, UserFactory, confirm_payout_number, fund_wallet
from tests.wallet.helpers import PHONE
from wallet import personal_data
from wallet.models import Deposit, TierRequest, Withdrawal
from wallet.services import tier_request_create, top_up_start, withdrawal_create

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


pytestmark = pytest.mark.django_db


def test_top_ups_and_tier_requests_are_exported_then_their_details_erased(user, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the prompt is never sent
    deposit = top_up_start(
        user=user,
        currency="UGX",
        amount=Decimal("20000"),
        method="mobile_money",
        payment_details={"phone_number": "+256770000001"},
    )
    tier_request_create(user=user, note="passport no. A123")
    data = user_data_export(user=user)
    section = data["wallet"]
    assert section["tier"] == 1
    assert [t["id"] for t in section["top_ups"]] == [str(deposit.public_id)]
    assert section["tier_requests"][0]["note"] == "passport no. A123"
    # Settle what blocks an erasure (a pending payment), as an operator would.
    from payments.models import MobileMoneyPayment

    MobileMoneyPayment.objects.filter(top_up=deposit).update(status="failed")
    user_erase(user=user, password=DEFAULT_PASSWORD)
    assert Deposit.objects.get(pk=deposit.pk).payment_details == {}
    assert TierRequest.objects.get(user=user).note == ""

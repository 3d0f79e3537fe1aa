"""The wallet's part of a person's data export and erasure."""

from decimal import Decimal

import pytest

from accounts.services import user_data_export, user_erase
from tests.factories import DEFAULT_PASSWORD
from wallet.models import Deposit, TierRequest
from wallet.services import tier_request_create, top_up_start

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

"""A frozen account sends no money out: no withdrawal is made or confirmed."""

from decimal import Decimal

import pytest

from switches.errors import AccountFrozen
from tests.factories import UserFactory, fund_wallet
from tests.wallet.helpers import balance
from wallet.models import Withdrawal
from wallet.services import withdrawal_confirm, withdrawal_create

pytestmark = pytest.mark.django_db

BANK = {"bank_name": "Stanbic", "account_name": "Ada", "account_number": "9030012345"}


def _freeze(user):
    from switches.models import AccountFreeze

    AccountFreeze.objects.create(user=user, reason="Under review.", created_by=UserFactory())


def test_a_frozen_account_cannot_start_a_withdrawal(relworx):
    user = UserFactory()
    fund_wallet(user, "UGX", "100000")
    _freeze(user)
    with pytest.raises(AccountFrozen):
        withdrawal_create(
            user=user, currency="UGX", amount=Decimal("20000"), method="bank", destination=BANK
        )
    assert not Withdrawal.objects.filter(user=user).exists()
    assert balance(user) == Decimal("100000")


def test_a_withdrawal_made_before_the_freeze_cannot_be_confirmed(relworx):
    user = UserFactory()
    fund_wallet(user, "UGX", "100000")
    withdrawal = withdrawal_create(
        user=user, currency="UGX", amount=Decimal("20000"), method="bank", destination=BANK
    )
    _freeze(user)
    with pytest.raises(AccountFrozen):
        withdrawal_confirm(user=user, withdrawal_id=withdrawal.public_id, code="000000")
    withdrawal.refresh_from_db()
    assert withdrawal.status == Withdrawal.Status.AWAITING_CONFIRMATION

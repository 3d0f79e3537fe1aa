"""Bank top-ups in the reviewers' queue (the admin): the same queue as bank
buys, the wallet figures before approving, four eyes above the threshold."""

from decimal import Decimal

import pytest

from accounts.roles import DEPOSIT_REVIEWER
from ledger.selectors import balance_get
from payments.models import BankDeposit, DecisionProposal
from tests.factories import UserFactory, ledger_rows
from tests.staff import staff_sign_in
from wallet.models import Deposit
from wallet.services import top_up_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer():
    return UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)


def bank_top_up(user, amount="1000000", currency="UGX"):
    deposit = top_up_start(
        user=user, currency=currency, amount=Decimal(amount), method="bank_deposit"
    )
    return deposit, BankDeposit.objects.get(top_up=deposit)


def test_a_top_up_in_the_queue_shows_the_wallet_figures_then_credits(client, user, reviewer):
    deposit, bank = bank_top_up(user)
    staff_sign_in(client, reviewer)
    queue = client.get("/admin/payments/bankdeposit/").content.decode()
    assert bank.reference_code in queue and "Wallet top-up" in queue
    url = f"/admin/payments/bankdeposit/{bank.pk}/approve/"
    before = ledger_rows()
    page = client.post(url, {"amount_received": "900000"})
    text = page.content.decode()
    assert "Confirm approval" in text
    assert "UGX 886,500" in text  # 900,000 less 1.5 %
    assert ledger_rows() == before
    assert client.post(url, {"amount_received": "900000", "confirmed": "yes"}).status_code == 302
    assert Deposit.objects.get(pk=deposit.pk).status == "completed"
    assert balance_get(user=user, currency="UGX") == Decimal("886500")


def test_a_large_top_up_needs_a_second_reviewer(client, user, reviewer):
    deposit, bank = bank_top_up(user, amount="5000000")
    staff_sign_in(client, reviewer)
    url = f"/admin/payments/bankdeposit/{bank.pk}/approve/"
    assert client.post(url, {"amount_received": "5000000"}).status_code == 302
    proposal = DecisionProposal.objects.get(deposit=bank)
    assert Deposit.objects.get(pk=deposit.pk).status == "pending"
    assert balance_get(user=user, currency="UGX") == 0
    second = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    client.logout()
    staff_sign_in(client, second)
    confirm = f"/admin/payments/bankdeposit/{bank.pk}/confirm/{proposal.pk}/"
    assert "UGX 4,925,000" in client.get(confirm).content.decode()
    assert client.post(confirm).status_code == 302
    assert Deposit.objects.get(pk=deposit.pk).status == "completed"
    assert balance_get(user=user, currency="UGX") == Decimal("4925000")

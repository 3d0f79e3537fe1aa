"""Bank withdrawals paid by staff in the admin: the queue, nobody pays out
their own, four eyes above the threshold, rejection refunds, every decision
in the audit trail."""

from decimal import Decimal

import pytest
from django.test import Client

from audit.models import AuditEvent
from dtexchange.four_eyes import FourEyesRequired, OwnMoneyRefused, SamePersonRefused
from ledger.models import AccountKind
from ledger.services import house_account
from tests.factories import UserFactory, emailed_code, fund_wallet
from tests.staff import staff_sign_in
from tests.wallet.helpers import BANK, api_for, assert_reconciles, balance, hold_balance, withdraw
from wallet.models import Withdrawal
from wallet.services import (
    withdrawal_bank_pay,
    withdrawal_bank_pay_propose,
    withdrawal_bank_reject,
)

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


def _confirmed_bank_withdrawal(user, amount="100000"):
    api = api_for(user)
    w = withdraw(api, method="bank", amount=amount)
    assert w.status_code == 201, w.json()
    r = api.post(
        f"/api/wallet/withdrawals/{w.json()['id']}/confirm",
        {"code": emailed_code(user.email)},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "processing"
    return Withdrawal.objects.get(public_id=w.json()["id"])


@pytest.fixture
def customer():
    user = UserFactory()
    fund_wallet(user, "UGX", "5000000")
    return user


@pytest.fixture
def reviewer():
    return UserFactory(roles=["deposit_reviewer"], is_staff=True)


@pytest.fixture
def second_reviewer():
    return UserFactory(roles=["deposit_reviewer"], is_staff=True)


def _bank_clearing():
    account = house_account(kind=AccountKind.BANK_CLEARING, currency="UGX")
    account.refresh_from_db()
    return account.balance


def test_a_reviewer_pays_it_in_the_admin_and_it_is_audited(customer, reviewer):
    withdrawal = _confirmed_bank_withdrawal(customer)
    client = staff_sign_in(Client(), reviewer)
    queue = client.get("/admin/wallet/withdrawal/").content.decode()
    assert str(withdrawal.public_id) in queue and "Record payment" in queue
    page = client.get(f"/admin/wallet/withdrawal/{withdrawal.pk}/pay/").content.decode()
    assert BANK["account_number"] in page and "99,500" in page  # what to send
    r = client.post(
        f"/admin/wallet/withdrawal/{withdrawal.pk}/pay/", {"bank_reference": "FT2612020001"}
    )
    assert r.status_code == 302
    withdrawal.refresh_from_db()
    assert withdrawal.status == "completed" and withdrawal.bank_reference == "FT2612020001"
    assert withdrawal.decided_by == reviewer
    assert balance(customer) == D("4900000") and hold_balance() == 0
    assert _bank_clearing() == D("99500")
    paid = AuditEvent.objects.get(action="withdrawal.bank_paid")
    assert paid.actor_id == reviewer.pk and paid.subject_id == customer.pk
    assert paid.data["bank_reference"] == "FT2612020001"
    assert AuditEvent.objects.filter(action="withdrawal.bank_details_viewed").exists()
    queue = client.get("/admin/wallet/withdrawal/").content.decode()
    assert str(withdrawal.public_id) not in queue  # out of the queue
    assert_reconciles()


def test_nobody_pays_out_their_own_withdrawal(reviewer):
    fund_wallet(reviewer, "UGX", "500000")
    withdrawal = _confirmed_bank_withdrawal(reviewer)
    for attempt in (
        lambda: withdrawal_bank_pay(
            staff=reviewer, withdrawal_pk=withdrawal.pk, bank_reference="X1"
        ),
        lambda: withdrawal_bank_pay_propose(
            staff=reviewer, withdrawal_pk=withdrawal.pk, bank_reference="X1"
        ),
        lambda: withdrawal_bank_reject(staff=reviewer, withdrawal_pk=withdrawal.pk, reason="no"),
    ):
        with pytest.raises(OwnMoneyRefused):
            attempt()
    client = staff_sign_in(Client(), reviewer)
    client.post(f"/admin/wallet/withdrawal/{withdrawal.pk}/pay/", {"bank_reference": "X1"})
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "processing"
    assert not AuditEvent.objects.filter(action__startswith="withdrawal.bank_p").exists()


def test_above_the_threshold_two_people_pay_it(customer, reviewer, second_reviewer, settings):
    settings.FOUR_EYES_THRESHOLDS = {**settings.FOUR_EYES_THRESHOLDS, "UGX": D("1000000")}
    withdrawal = _confirmed_bank_withdrawal(customer, amount="2000000")
    with pytest.raises(FourEyesRequired):
        withdrawal_bank_pay(staff=reviewer, withdrawal_pk=withdrawal.pk, bank_reference="FT9")
    first = staff_sign_in(Client(), reviewer)
    first.post(f"/admin/wallet/withdrawal/{withdrawal.pk}/pay/", {"bank_reference": "FT9"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == "processing" and withdrawal.proposed_by == reviewer
    assert hold_balance() == D("2000000")  # nothing moved on a proposal
    with pytest.raises(SamePersonRefused):
        withdrawal_bank_pay(staff=reviewer, withdrawal_pk=withdrawal.pk, bank_reference="FT9")
    second = staff_sign_in(Client(), second_reviewer)
    second.post(f"/admin/wallet/withdrawal/{withdrawal.pk}/pay/", {"bank_reference": "FT9"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == "completed" and withdrawal.decided_by == second_reviewer
    paid = AuditEvent.objects.get(action="withdrawal.bank_paid")
    assert paid.data["proposed_by"] == reviewer.email
    assert AuditEvent.objects.filter(action="withdrawal.bank_pay_proposed").count() == 1
    assert_reconciles()


def test_a_rejected_bank_withdrawal_goes_back_to_the_wallet(customer, reviewer):
    withdrawal = _confirmed_bank_withdrawal(customer)
    client = staff_sign_in(Client(), reviewer)
    client.post(f"/admin/wallet/withdrawal/{withdrawal.pk}/reject/", {"reason": "Closed account"})
    withdrawal.refresh_from_db()
    assert withdrawal.status == "failed" and withdrawal.failure_reason == "Closed account"
    assert balance(customer) == D("5000000") and hold_balance() == 0
    assert AuditEvent.objects.get(action="withdrawal.bank_rejected").actor_id == reviewer.pk
    # Decided once: paying it now is refused.
    r = client.post(f"/admin/wallet/withdrawal/{withdrawal.pk}/pay/", {"bank_reference": "X"})
    assert r.status_code == 302
    assert Withdrawal.objects.get(pk=withdrawal.pk).status == "failed"
    assert_reconciles()


def test_a_customer_cannot_see_the_queue(customer):
    client = Client()
    client.force_login(customer)
    assert client.get("/admin/wallet/withdrawal/").status_code in (302, 403)

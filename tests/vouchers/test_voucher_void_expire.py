from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dtexchange.errors import InvalidInput
from ledger.models import LedgerTransaction
from tests.factories import UserFactory, VoucherFactory
from tests.vouchers.conftest import assert_ledger_reconciles, house_balance
from vouchers.errors import VoucherStateConflict, VoucherUnavailable
from vouchers.models import Voucher
from vouchers.services import voucher_expire_due, voucher_redeem, voucher_void

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    return UserFactory(email="staff@example.test", is_staff=True)


def test_void_records_who_when_why_and_blocks_redemption(staff, voucher, user):
    voided = voucher_void(voucher_id=voucher.pk, actor=staff, reason="  Sold to a fraudster ")
    assert voided.status == "void"
    assert voided.voided_by == staff
    assert voided.voided_at is not None
    assert voided.void_reason == "Sold to a fraudster"
    with pytest.raises(VoucherUnavailable):
        voucher_redeem(voucher_id=voucher.pk, currency="UGX", user=user)
    # The liability is released back to equity: nothing is owed any more.
    assert house_balance("voucher_liability", "UGX") == 0
    assert house_balance("equity", "UGX") == 0
    reversal = LedgerTransaction.objects.get(idempotency_key=f"voucher_void:{voucher.pk}")
    assert reversal.kind == "reversal"
    assert reversal.actor == f"user:{staff.pk}:{staff.email}"
    assert_ledger_reconciles()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_void_needs_a_reason(staff, voucher, reason):
    with pytest.raises(InvalidInput) as err:
        voucher_void(voucher_id=voucher.pk, actor=staff, reason=reason)
    assert "reason" in err.value.details
    voucher.refresh_from_db()
    assert voucher.status == "active"
    assert voucher.voided_at is None
    assert house_balance("voucher_liability", "UGX") == Decimal("50000")


def test_void_twice_or_after_redemption_is_a_conflict(staff, user):
    first, second = VoucherFactory(), VoucherFactory()
    voucher_void(voucher_id=first.pk, actor=staff, reason="damaged card")
    with pytest.raises(VoucherStateConflict) as err:
        voucher_void(voucher_id=first.pk, actor=staff, reason="again")
    assert err.value.status == 409
    assert Voucher.objects.get(pk=first.pk).void_reason == "damaged card"
    assert LedgerTransaction.objects.filter(kind="reversal").count() == 1

    voucher_redeem(voucher_id=second.pk, currency="UGX", user=user)
    with pytest.raises(VoucherStateConflict):
        voucher_void(voucher_id=second.pk, actor=staff, reason="too late")
    second.refresh_from_db()
    assert (second.status, second.voided_at) == ("redeemed", None)


def test_void_unknown_id(staff):
    with pytest.raises(VoucherUnavailable):
        voucher_void(voucher_id=999999, actor=staff, reason="x")


def test_expiry_sweep_marks_only_active_vouchers_past_their_date(user, staff):
    due, fresh, redeemed, void = (VoucherFactory() for _ in range(4))
    voucher_redeem(voucher_id=redeemed.pk, currency="UGX", user=user)
    voucher_void(voucher_id=void.pk, actor=staff, reason="x")
    past = timezone.now() - timedelta(minutes=1)
    Voucher.objects.exclude(pk=fresh.pk).update(expires_at=past)

    # Liability: 4 issued, 1 redeemed (not drawn down here: no trade in this
    # test), 1 voided.
    assert house_balance("voucher_liability", "UGX") == Decimal("150000")
    assert voucher_expire_due() == 1
    assert voucher_expire_due() == 0  # idempotent
    assert house_balance("voucher_liability", "UGX") == Decimal("100000")
    assert LedgerTransaction.objects.filter(kind="voucher_expiry").count() == 1
    assert_ledger_reconciles()
    statuses = dict(Voucher.objects.values_list("pk", "status"))
    assert statuses == {
        due.pk: "expired",
        fresh.pk: "active",
        redeemed.pk: "redeemed",
        void.pk: "void",
    }
    assert Voucher.objects.get(pk=due.pk).expired_at is not None


def test_a_voucher_past_its_date_cannot_be_redeemed_before_the_sweep(voucher, user):
    Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now())
    with pytest.raises(VoucherUnavailable):
        voucher_redeem(voucher_id=voucher.pk, currency="UGX", user=user)
    assert Voucher.objects.get(pk=voucher.pk).status == "active"


def test_the_beat_task_runs_the_sweep(voucher):
    from django.conf import settings

    from dtexchange.celery import app
    from vouchers.tasks import vouchers_expire_due

    entry = settings.CELERY_BEAT_SCHEDULE["vouchers-expire-due"]
    assert entry["task"] == vouchers_expire_due.name
    assert entry["task"] in app.tasks  # autodiscovered: a worker can run it
    Voucher.objects.filter(pk=voucher.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    vouchers_expire_due.delay()  # eager in tests, as a worker would run it
    assert Voucher.objects.get(pk=voucher.pk).status == "expired"
    assert house_balance("voucher_liability", "UGX") == 0
    assert_ledger_reconciles()

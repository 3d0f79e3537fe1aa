from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from dtexchange.errors import InvalidInput
from ledger.models import LedgerTransaction
from tests.factories import UserFactory
from tests.vouchers.conftest import (
    assert_code_stored_nowhere,
    assert_ledger_reconciles,
    house_balance,
)
from tests.vouchers.test_codes import CODE_RE
from vouchers import codes
from vouchers.models import Voucher, VoucherBatch
from vouchers.services import voucher_batch_create

pytestmark = pytest.mark.django_db


def test_batch_issue_returns_codes_and_stores_only_hashes():
    admin = UserFactory(email="issuer@example.test", is_staff=True)
    before = timezone.now()
    issued = voucher_batch_create(
        count=3,
        amount=Decimal("25000"),
        currency="ugx",
        expires_in_days=90,
        actor=admin,
        note="Kampala agents",
    )
    assert len(issued) == 3
    assert len({plain for _, plain in issued}) == 3
    batch = VoucherBatch.objects.get()
    assert batch.created_by == admin
    assert batch.actor == f"user:{admin.pk}:{admin.email}"
    assert (batch.count, batch.currency, batch.amount, batch.note) == (
        3,
        "UGX",
        Decimal("25000"),
        "Kampala agents",
    )
    assert before + timedelta(days=90) <= batch.expires_at <= timezone.now() + timedelta(days=90)
    for voucher, plain in issued:
        assert CODE_RE.match(plain)
        voucher.refresh_from_db()
        body = codes.normalise(plain)
        assert voucher.code_hash == codes.code_hash(body)
        assert voucher.suffix == body[-4:]
        assert (voucher.status, voucher.amount, voucher.currency) == (
            "active",
            Decimal("25000"),
            "UGX",
        )
        assert voucher.expires_at == batch.expires_at
        assert_code_stored_nowhere(plain)

    # One posting for the batch: equity/external -> voucher liability.
    txn = LedgerTransaction.objects.get()
    assert (txn.kind, txn.idempotency_key) == ("voucher_issue", f"voucher_issue:batch:{batch.pk}")
    assert txn.actor == batch.actor
    assert house_balance("voucher_liability", "UGX") == Decimal("75000")
    assert house_balance("equity", "UGX") == Decimal("-75000")
    assert_ledger_reconciles()


def test_usd_face_value_keeps_cents():
    [(voucher, _)] = voucher_batch_create(
        count=1, amount="12.50", currency="USD", expires_in_days=1, actor="tests"
    )
    voucher.refresh_from_db()
    assert voucher.amount == Decimal("12.50")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("count", {"count": 0}),
        ("count", {"count": 1001}),
        ("count", {"count": "many"}),
        ("amount", {"amount": Decimal("0")}),
        ("amount", {"amount": Decimal("-5000")}),
        ("amount", {"amount": "abc"}),
        ("amount", {"amount": "NaN"}),
        ("amount", {"amount": "Infinity"}),
        ("amount", {"amount": Decimal("5000.5")}),  # UGX has no minor unit
        ("amount", {"amount": Decimal("12.345"), "currency": "USD"}),
        ("amount", {"amount": Decimal("999")}),  # below the voucher minimum
        ("amount", {"amount": Decimal("10000001")}),  # above the maximum
        ("amount", {"amount": Decimal("5001"), "currency": "USD"}),
        ("currency", {"currency": "EUR"}),
        ("currency", {"currency": "BTC"}),
        ("currency", {"currency": ""}),
        ("expires_in_days", {"expires_in_days": 0}),
        ("expires_in_days", {"expires_in_days": 3651}),
        ("expires_in_days", {"expires_in_days": "soon"}),
        ("actor", {"actor": "  "}),
    ],
)
def test_bad_batch_requests_are_refused_and_write_nothing(field, kwargs):
    args = {
        "count": 2,
        "amount": Decimal("5000"),
        "currency": "UGX",
        "expires_in_days": 30,
        "actor": "tests",
        **kwargs,
    }
    with pytest.raises(InvalidInput) as err:
        voucher_batch_create(**args)
    assert err.value.code == "invalid_input"
    assert field in err.value.details
    assert VoucherBatch.objects.count() == 0
    assert Voucher.objects.count() == 0
    assert LedgerTransaction.objects.count() == 0


def test_actor_user_is_recorded_without_extra_users():
    voucher_batch_create(
        count=1, amount=Decimal("1"), currency="USD", expires_in_days=1, actor="cli:ops"
    )
    batch = VoucherBatch.objects.get()
    assert batch.created_by is None
    assert batch.actor == "cli:ops"
    assert User.objects.count() == 0

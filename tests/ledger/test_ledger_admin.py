"""The ledger admin: staff can look, nobody (not even a superuser) can edit."""

from decimal import Decimal

import pytest
from django.urls import reverse

from ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tests.factories import UserFactory, fund_wallet
from tests.staff import staff_sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def posted():
    wallet = fund_wallet(UserFactory(), "USD", "12.34")
    return wallet, LedgerTransaction.objects.get(), LedgerEntry.objects.first()


@pytest.mark.parametrize("superuser", [False, True])
def test_staff_can_view_but_not_add_change_or_delete(client, posted, superuser):
    wallet, txn, entry = posted
    staff = UserFactory(is_staff=True, is_superuser=superuser)
    staff_sign_in(client, staff)

    for model, obj in ((LedgerAccount, wallet), (LedgerTransaction, txn), (LedgerEntry, entry)):
        name = model._meta.model_name
        assert client.get(reverse(f"admin:ledger_{name}_changelist")).status_code == 200
        page = client.get(reverse(f"admin:ledger_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert client.get(reverse(f"admin:ledger_{name}_add")).status_code == 403
        assert client.get(reverse(f"admin:ledger_{name}_delete", args=[obj.pk])).status_code == 403
        assert (
            client.post(reverse(f"admin:ledger_{name}_change", args=[obj.pk]), {}).status_code
            == 403
        )

    page = client.get(reverse("admin:ledger_ledgertransaction_change", args=[txn.pk]))
    assert b"12.34" in page.content  # the entries are shown inline
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("12.34")


def test_customers_cannot_see_the_ledger_admin(client, posted):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:ledger_ledgeraccount_changelist"))
    assert response.status_code == 302  # to the admin login

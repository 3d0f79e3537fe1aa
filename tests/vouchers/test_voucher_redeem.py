import threading
from decimal import Decimal

import pytest
from django.db import connection

from dtexchange.errors import DomainError, InvalidInput
from tests.factories import UserFactory, VoucherFactory
from vouchers.errors import VoucherCurrencyMismatch, VoucherUnavailable
from vouchers.models import Voucher
from vouchers.services import voucher_redeem


@pytest.mark.django_db
def test_redeem_marks_the_voucher_once(voucher, user):
    redeemed = voucher_redeem(code=voucher.plain_code.lower(), currency="ugx", user=user)
    assert redeemed.pk == voucher.pk
    assert redeemed.status == "redeemed"
    assert redeemed.redeemed_by == user
    assert redeemed.redeemed_at is not None
    with pytest.raises(VoucherUnavailable):
        voucher_redeem(code=voucher.plain_code, currency="UGX", user=user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "currency", "error"),
    [
        ("DTX-2345-6789-ABCD-EFGH-JKMN", "UGX", VoucherUnavailable),
        ("not a code", "UGX", InvalidInput),
        (None, "UGX", InvalidInput),
        ("GOOD", "USD", VoucherCurrencyMismatch),
        ("GOOD", "EUR", InvalidInput),
    ],
)
def test_redeem_refusals_write_nothing(voucher, user, code, currency, error):
    before = list(Voucher.objects.values())
    with pytest.raises(error):
        voucher_redeem(
            code=voucher.plain_code if code == "GOOD" else code, currency=currency, user=user
        )
    assert list(Voucher.objects.values()) == before


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_redemptions_succeed_exactly_once():
    voucher = VoucherFactory(amount=Decimal("20"), currency="USD")
    users = [UserFactory() for _ in range(20)]
    barrier = threading.Barrier(len(users))
    results: list[object] = []
    lock = threading.Lock()

    def redeem(user):
        try:
            barrier.wait(timeout=30)
            outcome = voucher_redeem(code=voucher.plain_code, currency="USD", user=user)
        except DomainError as exc:
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=redeem, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    winners = [r for r in results if isinstance(r, Voucher)]
    losers = [r for r in results if isinstance(r, DomainError)]
    assert len(results) == 20
    assert len(winners) == 1
    assert all(isinstance(r, VoucherUnavailable) for r in losers) and len(losers) == 19
    voucher.refresh_from_db()
    assert voucher.status == "redeemed"
    assert voucher.redeemed_by_id == winners[0].redeemed_by_id

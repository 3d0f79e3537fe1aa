import threading
from decimal import Decimal

import pytest
from django.db import connection

from dtexchange.errors import DomainError, InvalidInput
from tests.factories import UserFactory, VoucherFactory
from vouchers.errors import VoucherCurrencyMismatch, VoucherUnavailable
from vouchers.models import Voucher
from vouchers.selectors import voucher_for_payment
from vouchers.services import voucher_redeem


@pytest.mark.django_db
def test_redeem_marks_the_voucher_once(voucher, user):
    redeemed = voucher_redeem(
        voucher_id=voucher.pk, currency="ugx", user=user, amount=Decimal("50000")
    )
    assert redeemed.pk == voucher.pk
    assert redeemed.status == "redeemed"
    assert redeemed.redeemed_by == user
    assert redeemed.redeemed_at is not None
    with pytest.raises(VoucherUnavailable):
        voucher_redeem(voucher_id=voucher.pk, currency="UGX", user=user)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("which", "currency", "amount", "error", "code"),
    [
        ("unknown", "UGX", None, VoucherUnavailable, "voucher_unavailable"),
        ("it", "USD", None, VoucherCurrencyMismatch, "voucher_currency_mismatch"),
        ("it", "EUR", None, InvalidInput, "invalid_input"),
        ("it", "UGX", Decimal("49999"), InvalidInput, "amount_mismatch"),
    ],
)
def test_redeem_refusals_write_nothing(voucher, user, which, currency, amount, error, code):
    before = list(Voucher.objects.values())
    with pytest.raises(error) as err:
        voucher_redeem(
            voucher_id=voucher.pk if which == "it" else voucher.pk + 1000,
            currency=currency,
            user=user,
            amount=amount,
        )
    assert err.value.code == code
    assert list(Voucher.objects.values()) == before


@pytest.mark.django_db
def test_voucher_for_payment_finds_the_voucher_by_its_typed_code(voucher):
    typed = " " + voucher.plain_code.lower().replace("-", "") + " "
    found = voucher_for_payment(code=typed, currency="UGX", amount=Decimal("50000.00"))
    assert found.pk == voucher.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "currency", "amount", "error_code"),
    [
        ("DTX-2345-6789-ABCD-EFGH-JKMN", "UGX", "50000", "voucher_unavailable"),
        ("DTX-0000", "UGX", "50000", "invalid_voucher_code"),
        (None, "UGX", "50000", "invalid_voucher_code"),
        (["list"], "UGX", "50000", "invalid_voucher_code"),
        ("GOOD", "USD", "50000", "voucher_currency_mismatch"),
        ("GOOD", "UGX", "60000", "amount_mismatch"),
    ],
)
def test_voucher_for_payment_refusals(voucher, code, currency, amount, error_code):
    with pytest.raises(DomainError) as err:
        voucher_for_payment(
            code=voucher.plain_code if code == "GOOD" else code,
            currency=currency,
            amount=Decimal(amount),
        )
    assert err.value.code == error_code
    if error_code == "amount_mismatch":
        assert err.value.details["voucher_amount"] == "50000"
        assert "UGX 50,000" in err.value.message


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
            outcome = voucher_redeem(voucher_id=voucher.pk, currency="USD", user=user)
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

"""Parallel withdrawals of one user (real threads, PostgreSQL) cannot spend
the same balance twice: exactly the covered ones go through."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from ledger.errors import InsufficientBalance
from tests.factories import UserFactory, fund_wallet
from tests.wallet.conftest import small_limits
from tests.wallet.helpers import PHONE, assert_reconciles, balance, hold_balance
from wallet.limits import LimitExceeded
from wallet.models import Withdrawal
from wallet.services import withdrawal_create

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("method", ["mobile_money", "bank"])
def test_parallel_withdrawals_cannot_overspend(relworx, method, settings):
    _velocity(settings, 100)  # this test is about the balance, not the hourly count
    user = UserFactory()
    fund_wallet(user, "UGX", "500000")
    destination = (
        {"phone_number": PHONE}
        if method == "mobile_money"
        else {"bank_name": "Stanbic", "account_name": "Ada", "account_number": "9030012345"}
    )
    n = 12
    barrier = threading.Barrier(n)
    outcomes = []

    def one(i):
        barrier.wait()
        try:
            withdrawal_create(
                user=user,
                currency="UGX",
                amount=D("100000"),
                method=method,
                destination=destination,
                idempotency_key=f"parallel-{i}",
            )
            outcomes.append("ok")
        except InsufficientBalance:
            outcomes.append("short")
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] * 5 + ["short"] * 7
    assert Withdrawal.objects.filter(user=user).count() == 5
    assert balance(user) == 0
    assert hold_balance() == D("500000")
    assert_reconciles()


def _velocity(settings, per_hour: int) -> None:
    tier1 = {**settings.WALLET_LIMITS[1], "withdrawals_per_hour": per_hour}
    settings.WALLET_LIMITS = {**settings.WALLET_LIMITS, 1: tier1}


def test_parallel_withdrawals_pass_the_daily_limit_only_as_far_as_it_goes(relworx, settings):
    """20 withdrawals at once whose sum passes the daily withdrawal limit but
    not the balance: exactly the ones the limit allows go through."""
    small_limits(settings, withdrawal=("1000000", "10000000"))
    _velocity(settings, 100)
    user = UserFactory()
    fund_wallet(user, "UGX", "5000000")
    n = 20
    barrier = threading.Barrier(n)
    outcomes = []

    def one(i):
        barrier.wait()
        try:
            withdrawal_create(
                user=user,
                currency="UGX",
                amount=D("100000"),
                method="bank",
                destination={
                    "bank_name": "Stanbic",
                    "account_name": "Ada",
                    "account_number": "9030012345",
                },
                idempotency_key=f"limit-{i}",
            )
            outcomes.append("ok")
        except LimitExceeded as exc:
            assert exc.details["limit"] == "withdrawal_daily"
            outcomes.append("limit")
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["limit"] * 10 + ["ok"] * 10
    assert Withdrawal.objects.filter(user=user).count() == 10
    assert balance(user) == D("4000000")
    assert hold_balance() == D("1000000")
    assert_reconciles()


def test_the_hourly_count_limits_withdrawals_and_a_cancelled_one_gives_its_use_back(
    relworx, settings
):
    from wallet.services import withdrawal_cancel

    _velocity(settings, 2)
    user = UserFactory()
    fund_wallet(user, "UGX", "500000")
    bank = {"bank_name": "Stanbic", "account_name": "Ada", "account_number": "9030012345"}

    def create(key):
        return withdrawal_create(
            user=user,
            currency="UGX",
            amount=D("10000"),
            method="bank",
            destination=bank,
            idempotency_key=key,
        )

    first = create("h-1")
    create("h-2")
    with pytest.raises(LimitExceeded) as refused:
        create("h-3")
    assert refused.value.details["limit"] == "withdrawals_per_hour"
    assert Withdrawal.objects.filter(user=user).count() == 2
    withdrawal_cancel(user=user, withdrawal_id=first.public_id)
    create("h-3")  # the cancelled one no longer counts
    assert balance(user) == D("480000")
    assert_reconciles()

"""Parallel withdrawals of one user (real threads, PostgreSQL) cannot spend
the same balance twice: exactly the covered ones go through."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from ledger.errors import InsufficientBalance
from tests.factories import UserFactory, fund_wallet
from tests.wallet.helpers import PHONE, assert_reconciles, balance, hold_balance
from wallet.models import Withdrawal
from wallet.services import withdrawal_create

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("method", ["mobile_money", "bank"])
def test_parallel_withdrawals_cannot_overspend(relworx, method):
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

"""ledger/sql.py: the posting statement's refusals, and the accounts of a
trade in one query (accounts_get_or_create)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ledger import sql
from ledger.models import AccountKind, LedgerAccount, LedgerTransaction
from ledger.services import accounts_get_or_create, house_account
from tests.factories import UserFactory, fund_wallet

pytestmark = pytest.mark.django_db

D = Decimal


def _header(key: str) -> list:
    return ["adjustment", key, timezone.now(), "test", "", ""]


def test_the_posting_statement_writes_nothing_it_cannot_cover_and_says_why():
    wallet = fund_wallet(UserFactory(), "USD", "5")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    txn_id, locked = sql.post(
        header=_header("too-much"),
        entries=[(wallet.pk, "USD", D("-6")), (reserve.pk, "USD", D("6"))],
        deltas={wallet.pk: ("USD", D("-6")), reserve.pk: ("USD", D("6"))},
    )
    assert txn_id is None
    assert locked == {
        wallet.pk: (AccountKind.USER_WALLET, "USD", D("5")),
        reserve.pk: (AccountKind.RESERVE, "USD", D("0")),
    }
    assert not LedgerTransaction.objects.filter(idempotency_key="too-much").exists()
    wallet.refresh_from_db()
    assert wallet.balance == D("5")


def test_the_posting_statement_refuses_a_currency_that_is_not_the_accounts():
    wallet = fund_wallet(UserFactory(), "USD", "5")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    txn_id, _ = sql.post(
        header=_header("wrong-currency"),
        entries=[(wallet.pk, "UGX", D("-1")), (reserve.pk, "UGX", D("1"))],
        deltas={wallet.pk: ("UGX", D("-1")), reserve.pk: ("UGX", D("1"))},
    )
    assert txn_id is None
    assert not LedgerTransaction.objects.filter(idempotency_key="wrong-currency").exists()


def test_the_posting_statement_posts_once_per_key():
    wallet = fund_wallet(UserFactory(), "USD", "5")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    args = {
        "entries": [(wallet.pk, "USD", D("-2")), (reserve.pk, "USD", D("2"))],
        "deltas": {wallet.pk: ("USD", D("-2")), reserve.pk: ("USD", D("2"))},
    }
    first, _ = sql.post(header=_header("once"), **args)
    second, locked = sql.post(header=_header("once"), **args)
    assert first is not None and second is None
    assert locked[wallet.pk][2] == D("3")  # the balance after the first posting
    assert LedgerTransaction.objects.get(idempotency_key="once").entries.count() == 2


def test_accounts_of_a_trade_come_in_order_in_one_query_and_missing_ones_are_created():
    user, other = UserFactory(), UserFactory()
    btc = fund_wallet(user, "BTC", "1")
    fund_wallet(other, "USD", "1")  # another user's wallet is never picked
    reserve = house_account(kind=AccountKind.RESERVE, currency="BTC")
    specs = [
        (None, AccountKind.RESERVE, "BTC"),
        (user, AccountKind.USER_WALLET, "BTC"),
        (user, AccountKind.USER_WALLET, "USD"),  # does not exist yet
        (None, AccountKind.FEE_REVENUE, "USD"),  # does not exist yet
    ]
    accounts = accounts_get_or_create(*specs)
    assert [(a.owner_id, a.kind, a.currency) for a in accounts] == [
        (None, "reserve", "BTC"),
        (user.pk, "user_wallet", "BTC"),
        (user.pk, "user_wallet", "USD"),
        (None, "fee_revenue", "USD"),
    ]
    assert accounts[0].pk == reserve.pk and accounts[1].pk == btc.pk
    assert LedgerAccount.objects.filter(owner=user, currency="USD").count() == 1

    with CaptureQueriesContext(connection) as queries:
        again = accounts_get_or_create(*specs)
    assert len(queries.captured_queries) == 1
    assert [a.pk for a in again] == [a.pk for a in accounts]
    assert again[1].balance == D("1")  # read from the database when asked

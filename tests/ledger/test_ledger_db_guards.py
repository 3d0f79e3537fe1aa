"""PostgreSQL itself refuses broken double entry, even from raw SQL.

transaction=True: the balance trigger is deferred to COMMIT, so these tests
commit for real (each raw statement runs in its own atomic block).
"""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from ledger.services import house_account, ledger_post
from tests.factories import UserFactory, fund_wallet

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def _sql(sql: str, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _new_txn(key: str) -> int:
    return _sql(
        "INSERT INTO trading_ledgertransaction "
        "(kind, idempotency_key, created_at, actor, description, reference) "
        "VALUES ('adjustment', %s, now(), 'raw', '', '') RETURNING id",
        [key],
    )[0][0]


def _insert_entries(txn_id: int, rows: list[tuple[LedgerAccount, str, str]]):
    """Insert entries and the transaction row in ONE database transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        for account, currency, amount in rows:
            cursor.execute(
                "INSERT INTO trading_ledgerentry (transaction_id, account_id, currency, amount) "
                "VALUES (%s, %s, %s, %s)",
                [txn_id, account.pk, currency, amount],
            )


@pytest.fixture
def accounts():
    equity = house_account(kind=AccountKind.EQUITY, currency="USD")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="USD")
    btc_equity = house_account(kind=AccountKind.EQUITY, currency="BTC")
    return equity, fees, btc_equity


def test_unbalanced_entries_are_rejected_at_commit(accounts):
    equity, fees, _ = accounts
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn_id = _new_txn("raw-unbalanced")
        _insert_entries(txn_id, [(equity, "USD", "-5"), (fees, "USD", "4")])
    assert not LedgerTransaction.objects.filter(idempotency_key="raw-unbalanced").exists()
    assert LedgerEntry.objects.count() == 0


def test_a_single_entry_is_rejected_at_commit(accounts):
    equity, _, _ = accounts
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        _insert_entries(_new_txn("raw-single"), [(equity, "USD", "7")])
    assert LedgerEntry.objects.count() == 0


def test_balanced_raw_entries_are_accepted(accounts):
    equity, fees, _ = accounts
    with transaction.atomic():
        txn_id = _new_txn("raw-balanced")
        _insert_entries(txn_id, [(equity, "USD", "-5"), (fees, "USD", "5")])
    assert LedgerEntry.objects.filter(transaction_id=txn_id).count() == 2


def test_balanced_in_total_but_not_per_currency_is_rejected(accounts):
    equity, _fees, btc_equity = accounts
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn_id = _new_txn("raw-cross")
        _insert_entries(txn_id, [(equity, "USD", "-5"), (btc_equity, "BTC", "5")])


def test_entry_in_another_currency_than_its_account_is_rejected(accounts):
    equity, fees, _ = accounts
    with pytest.raises(IntegrityError, match="account"), transaction.atomic():
        txn_id = _new_txn("raw-currency")
        _insert_entries(txn_id, [(equity, "BTC", "-5"), (fees, "BTC", "5")])


def test_an_entry_added_later_to_a_posted_transaction_is_rejected(accounts):
    equity, fees, _ = accounts
    txn = ledger_post(
        kind="adjustment", idempotency_key="posted", entries=[(equity, D("-1")), (fees, D("1"))]
    )
    with pytest.raises(IntegrityError, match="does not balance"):
        _insert_entries(txn.pk, [(fees, "USD", "1")])
    assert LedgerEntry.objects.filter(transaction_id=txn.pk).count() == 2


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE trading_ledgerentry SET amount = amount * 2",
        "UPDATE trading_ledgerentry SET account_id = account_id",
        "DELETE FROM trading_ledgerentry",
        "UPDATE trading_ledgertransaction SET description = 'edited'",
        "DELETE FROM trading_ledgertransaction",
    ],
)
def test_entries_and_transactions_are_append_only(accounts, sql):
    equity, fees, _ = accounts
    ledger_post(
        kind="adjustment", idempotency_key="kept", entries=[(equity, D("-3")), (fees, D("3"))]
    )
    with pytest.raises(IntegrityError, match="append-only"):
        _sql(sql)
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [D("-3"), D("3")]
    assert LedgerTransaction.objects.get(idempotency_key="kept").description == ""


def test_the_orm_cannot_edit_entries_either(accounts):
    equity, fees, _ = accounts
    ledger_post(
        kind="adjustment", idempotency_key="orm", entries=[(equity, D("-2")), (fees, D("2"))]
    )
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(account=fees).update(amount=D("9"))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(account=fees).delete()


def test_an_accounts_currency_kind_and_owner_are_fixed():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "1")
    for sql in (
        "UPDATE trading_ledgeraccount SET currency = 'UGX' WHERE id = %s",
        "UPDATE trading_ledgeraccount SET owner_id = NULL, kind = 'equity' WHERE id = %s",
    ):
        with pytest.raises(IntegrityError, match="cannot change"):
            _sql(sql, [wallet.pk])
    wallet.refresh_from_db()
    assert (wallet.currency, wallet.kind, wallet.owner_id) == ("USD", "user_wallet", user.pk)


def test_check_constraint_keeps_wallets_and_reserves_non_negative():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "1")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    clearing = house_account(kind=AccountKind.BANK_CLEARING, currency="USD")
    for account in (wallet, reserve):
        with pytest.raises(IntegrityError, match="ledger_account_non_negative"):
            _sql("UPDATE trading_ledgeraccount SET balance = -0.01 WHERE id = %s", [account.pk])
    _sql("UPDATE trading_ledgeraccount SET balance = -0.01 WHERE id = %s", [clearing.pk])


def test_house_accounts_are_unique_per_kind_and_currency():
    house_account(kind=AccountKind.RESERVE, currency="TRX")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(kind=AccountKind.RESERVE, currency="TRX")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(kind=AccountKind.USER_WALLET, currency="TRX")  # no owner

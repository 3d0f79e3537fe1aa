"""fund_reserve, reconcile_ledger and the demo reserves of `make run`."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.signals import demo_data_requested
from ledger.models import AccountKind, LedgerTransaction
from ledger.services import DEMO_RESERVE_AMOUNTS, house_account, ledger_post
from tests.factories import UserFactory, fund_wallet

pytestmark = pytest.mark.django_db

D = Decimal


def _run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _balance(kind: str, code: str) -> Decimal:
    account = house_account(kind=kind, currency=code)
    return account.balance


def test_fund_reserve_moves_equity_into_the_reserve():
    out, _ = _run("fund_reserve", "btc", "1.5")
    assert "Funded the BTC reserve with 1.50000000 BTC" in out
    assert _balance(AccountKind.RESERVE, "BTC") == D("1.5")
    assert _balance(AccountKind.EQUITY, "BTC") == D("-1.5")

    _run("fund_reserve", "BTC", "0.5")
    assert _balance(AccountKind.RESERVE, "BTC") == D("2")


def test_fund_reserve_with_a_key_funds_once():
    _run("fund_reserve", "UGX", "1,000,000", "--key", "topup-2026-11")
    out, _ = _run("fund_reserve", "UGX", "1000000", "--key", "topup-2026-11")
    assert "Already funded" in out
    assert _balance(AccountKind.RESERVE, "UGX") == D("1000000")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("DOGE", "1"), "Unknown currency"),
        (("USD", "ten"), "must be a decimal number"),
        (("USD", "0"), "positive"),
        (("USD", "-5"), "positive"),
        (("USD", "NaN"), "positive"),
        (("USD", "Infinity"), "positive"),
        (("USD", "1.001"), "at most 2 decimals"),
        (("UGX", "10.5"), "at most 0 decimals"),
        (("BTC", "1e30"), "at most 8 decimals"),
    ],
)
def test_fund_reserve_refuses_bad_input_clearly(args, message):
    with pytest.raises(CommandError, match=message):
        _run("fund_reserve", *args)
    assert not LedgerTransaction.objects.exists()


def test_reconcile_passes_on_a_consistent_ledger():
    _run("fund_reserve", "USD", "100")
    fund_wallet(UserFactory(), "USD", "5")
    out, err = _run("reconcile_ledger")
    assert out.startswith("Ledger OK: 3 accounts, 2 transactions, 4 entries")
    assert "USD: reserve $100.00, customer wallets $5.00" in out
    assert err == ""


def test_reconcile_fails_naming_a_tampered_cached_balance():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "5")
    with connection.cursor() as cursor:  # what a bad hand-written fix would do
        cursor.execute(
            "UPDATE trading_ledgeraccount SET balance = balance + 1 WHERE id = %s", [wallet.pk]
        )

    with pytest.raises(CommandError, match="does not reconcile: 2 problem"):
        _run("reconcile_ledger")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_ledger", stdout=StringIO(), stderr=err)
    lines = err.getvalue()
    assert (
        f"[cached_balance] account {wallet.pk} (user_wallet USD, user {user.pk}): "
        "cached balance 6.000000000000000000 but its entries sum to 5.000000000000000000"
    ) in lines
    assert "[currency_total] USD: cached balances over all accounts should sum to 0" in lines


@pytest.mark.django_db(transaction=True)
def test_reconcile_names_an_unbalanced_transaction_planted_behind_the_triggers():
    equity = house_account(kind=AccountKind.EQUITY, currency="UGX")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="UGX")
    txn = ledger_post(
        kind="adjustment", idempotency_key="ok", entries=[(equity, D("-10")), (fees, D("10"))]
    )
    # Superuser-only escape hatch: replica mode skips triggers. The command
    # must still see what slipped through.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(
                "INSERT INTO trading_ledgerentry (transaction_id, account_id, currency, amount) "
                "VALUES (%s, %s, 'UGX', 7)",
                [txn.pk, fees.pk],
            )
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")

    err = StringIO()
    with pytest.raises(CommandError):
        call_command("reconcile_ledger", stdout=StringIO(), stderr=err)
    lines = err.getvalue()
    assert f"[unbalanced_transaction] transaction {txn.pk} UGX: entries should sum to 0" in lines
    assert f"account {fees.pk} (fee_revenue UGX): cached balance 10" in lines
    assert "[currency_total] UGX: entries over all accounts should sum to 0, found 7" in lines


def test_demo_data_funds_every_reserve_once():
    runs: list[list[str]] = [[], []]
    customer, reviewer = UserFactory(), UserFactory(is_staff=True)
    for lines in runs:
        demo_data_requested.send(
            sender=None, customer=customer, reviewer=reviewer, stdout=lines.append
        )
    # Other apps print their own demo data too; pick the reserves' line.
    printed = [next(line for line in run if line.startswith("Reserves")) for run in runs]

    for code, amount in DEMO_RESERVE_AMOUNTS.items():
        assert _balance(AccountKind.RESERVE, code) == amount
    assert LedgerTransaction.objects.filter(kind="reserve_funding").count() == 6
    assert printed[0].startswith("Reserves funded from equity: 5.00000000 BTC")
    assert "UGX 800,000,000" in printed[0]
    assert printed[1] == "Reserves already funded (nothing added)."


def test_load_demo_data_command_funds_the_reserves(settings):
    settings.DEBUG = True  # the embedded default; it refuses with DEBUG off
    out, _ = _run("load_demo_data")
    assert "Reserves funded from equity" in out
    assert _balance(AccountKind.RESERVE, "USD") == D("200000")
    out, _ = _run("reconcile_ledger")
    assert out.startswith("Ledger OK")


def test_ledger_reverse_posts_the_opposite_once_and_reconciles():
    user = UserFactory()
    fund_wallet(user, "USD", "100.00")
    original = LedgerTransaction.objects.filter(entries__account__owner=user).get()
    out, _ = _run("ledger_reverse", str(original.pk), "--reason", "funded the wrong user")
    assert f"Reversed transaction {original.pk}" in out
    from ledger.selectors import balance_get

    assert balance_get(user=user, currency="USD") == D("0")
    again, _ = _run("ledger_reverse", str(original.pk), "--reason", "again")
    assert "already reversed" in again
    assert LedgerTransaction.objects.filter(kind="reversal").count() == 1
    out, _ = _run("reconcile_ledger")
    assert "OK" in out


def test_ledger_reverse_refuses_what_it_cannot_do():
    user = UserFactory()
    fund_wallet(user, "USD", "100.00")
    original = LedgerTransaction.objects.filter(entries__account__owner=user).get()
    with pytest.raises(CommandError, match="reason"):
        _run("ledger_reverse", str(original.pk), "--reason", "  ")
    with pytest.raises(CommandError, match="No such ledger transaction"):
        _run("ledger_reverse", "999999", "--reason", "typo")
    # The money was spent: reversing would take the wallet below zero.
    ledger_post(
        kind="adjustment",
        idempotency_key="spend",
        entries=[
            (house_account(kind=AccountKind.EQUITY, currency="USD"), D("60.00")),
            (original.entries.get(amount__gt=0).account, D("-60.00")),
        ],
    )
    with pytest.raises(CommandError):
        _run("ledger_reverse", str(original.pk), "--reason", "too late")
    assert LedgerTransaction.objects.filter(kind="reversal").count() == 0

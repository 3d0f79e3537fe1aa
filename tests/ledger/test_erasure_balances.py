"""The ledger's part of an account erasure under real concurrency on
PostgreSQL (threads with their own connections): the wallets are locked with
the house accounts in pk order and their balances are looked at again under
the lock; what is left is given up in one posting, or the erasure is refused."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts.models import User
from accounts.services import user_erase, user_is_erased
from dtexchange.errors import DomainError
from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import balance_get, ledger_reconcile
from ledger.services import house_account, ledger_accounts_lock, wallet_account
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_wallet

pytestmark = pytest.mark.django_db(transaction=True)


def _someone_waits_for_a_lock(timeout: float = 10.0) -> bool:
    """True once another backend of this database waits for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # Inside a transaction the activity view is a snapshot taken at
            # first use: drop it to see the other backends as they are now.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def _erase_in_thread(user, give_up: bool, outcome: dict) -> threading.Thread:
    def run():
        try:
            user_erase(
                user=User.objects.get(pk=user.pk),
                password=DEFAULT_PASSWORD,
                give_up_small_balances=give_up,
            )
            outcome["result"] = "erased"
        except DomainError as exc:
            outcome["result"] = exc.code
            outcome["details"] = exc.details
        except Exception as exc:  # a deadlock would land here
            outcome["result"] = f"error: {type(exc).__name__}: {exc}"
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _credit_while_erasing(user, *, give_up: bool, credit: str, lock_first) -> dict:
    """Hold ``lock_first`` (ledger accounts) in an open transaction, start the
    erasure in another thread, and once it waits for a lock, credit the
    user's UGX wallet (a late payment, a refund) and commit."""
    outcome: dict = {}
    with transaction.atomic():
        ledger_accounts_lock(accounts=lock_first)
        thread = _erase_in_thread(user, give_up, outcome)
        waited = _someone_waits_for_a_lock()
        fund_wallet(user, "UGX", credit)  # locks the equity and the wallet, in pk order
    thread.join(timeout=30)
    assert not thread.is_alive()
    outcome["waited"] = waited
    return outcome


def test_money_arriving_after_the_blockers_check_refuses_the_erasure():
    """The blockers were read with a zero balance; a credit committed while
    the erasure waits for the wallet. Without a second look under the lock
    the account was closed with 5,000 UGX in it."""
    user = UserFactory()
    equity = house_account(kind=AccountKind.EQUITY, currency="UGX")
    wallet = wallet_account(user=user, currency="UGX")  # exists, at zero
    outcome = _credit_while_erasing(user, give_up=False, credit="5000", lock_first=[equity, wallet])
    assert outcome["result"] == "erasure_blocked", outcome
    assert outcome["details"]["blockers"][0]["code"] == "balance_not_zero"
    assert not user_is_erased(user=User.objects.get(pk=user.pk))
    assert balance_get(user=user, currency="UGX") == Decimal(5000)
    assert ledger_reconcile().ok


def test_erasure_and_a_concurrent_credit_lock_in_the_same_order():
    """A posting locks the house equity account (older, a lower pk) before
    the user's wallet. An erasure that locked the wallets first and the
    equity account afterwards deadlocked with it (PostgreSQL aborts one of
    the two). Locked together in pk order, the erasure waits, sees the
    credited balance and gives up the whole (still small) balance."""
    equity = house_account(kind=AccountKind.EQUITY, currency="UGX")
    user = UserFactory()
    fund_wallet(user, "UGX", "200")
    fund_wallet(user, "USD", "0.50")  # a second currency: one posting for both
    assert equity.pk < wallet_account(user=user, currency="UGX").pk
    outcome = _credit_while_erasing(user, give_up=True, credit="100", lock_first=[equity])
    assert outcome["waited"], outcome
    assert outcome["result"] == "erased", outcome
    assert balance_get(user=user, currency="UGX") == 0
    assert balance_get(user=user, currency="USD") == 0
    (given_up,) = LedgerTransaction.objects.filter(idempotency_key__startswith="erasure:")
    amounts = sorted((e.currency, e.amount) for e in given_up.entries.all())
    assert amounts == [
        ("UGX", Decimal(-300)),
        ("UGX", Decimal(300)),
        ("USD", Decimal("-0.50")),
        ("USD", Decimal("0.50")),
    ]
    assert ledger_reconcile().ok


def test_a_balance_grown_past_the_small_limit_under_the_lock_is_not_given_up():
    equity = house_account(kind=AccountKind.EQUITY, currency="UGX")
    user = UserFactory()
    fund_wallet(user, "UGX", "300")  # small: the user gives it up
    outcome = _credit_while_erasing(user, give_up=True, credit="20000", lock_first=[equity])
    assert outcome["waited"], outcome
    assert outcome["result"] == "erasure_blocked", outcome
    assert balance_get(user=user, currency="UGX") == Decimal(20300)  # nothing taken
    assert not user_is_erased(user=User.objects.get(pk=user.pk))
    assert ledger_reconcile().ok

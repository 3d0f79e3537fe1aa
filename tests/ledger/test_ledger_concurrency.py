"""Real threads, each with its own PostgreSQL connection, against ledger_post."""

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.errors import InsufficientBalance
from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import ledger_reconcile
from ledger.services import PostResult, house_account, ledger_post, ledger_post_result
from tests.factories import UserFactory, fund_wallet

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
# Connections are shared with everyone's suites on this machine (max 100):
# at most this many of the 50 threads hold one at a time; they still race.
MAX_CONNECTIONS = 20


def _run_threads(n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads released together; results or exceptions."""
    start = threading.Barrier(n)
    gate = threading.BoundedSemaphore(MAX_CONNECTIONS)
    results: list = [None] * n

    def run(i: int):
        start.wait()
        with gate:
            try:
                results[i] = work(i)
            except Exception as exc:  # collected and asserted on by the test
                results[i] = exc
            finally:
                connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_fifty_concurrent_debits_against_a_wallet_covering_ten():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "10.00")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")

    def debit(i: int):
        return ledger_post(
            kind="trade",
            idempotency_key=f"debit-{i}",
            entries=[(wallet, D("-1.00")), (reserve, D("1.00"))],
        )

    results = _run_threads(50, debit)

    posted = [r for r in results if isinstance(r, LedgerTransaction)]
    refused = [r for r in results if isinstance(r, InsufficientBalance)]
    assert len(posted) == 10, results
    assert len(refused) == 40, [r for r in results if not isinstance(r, LedgerTransaction)]
    wallet.refresh_from_db()
    reserve.refresh_from_db()
    assert wallet.balance == D("0")
    assert reserve.balance == D("10")
    assert LedgerTransaction.objects.filter(kind="trade").count() == 10

    report = ledger_reconcile()
    assert report.ok, report.problems
    call_command("reconcile_ledger")  # raises CommandError if anything is off


def test_concurrent_posts_with_the_same_key_post_once():
    user = UserFactory()
    wallet = fund_wallet(user, "UGX", "100000")
    reserve = house_account(kind=AccountKind.RESERVE, currency="UGX")

    def post(_i: int):
        return ledger_post_result(
            kind="trade",
            idempotency_key="same-key",
            entries=[(wallet, D("-2500")), (reserve, D("2500"))],
        )

    results = _run_threads(12, post)

    assert all(isinstance(r, PostResult) for r in results), results
    assert len({r.transaction.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert LedgerTransaction.objects.filter(idempotency_key="same-key").count() == 1
    wallet.refresh_from_db()
    assert wallet.balance == D("97500")
    assert ledger_reconcile().ok


def test_opposite_transfers_do_not_deadlock():
    """A→B and B→A at once: pk-ordered locks mean no deadlock, no lost update."""
    a = fund_wallet(UserFactory(), "USD", "100")
    b = fund_wallet(UserFactory(), "USD", "100")

    def transfer(i: int):
        src, dst = (a, b) if i % 2 else (b, a)
        return ledger_post(
            kind="adjustment",
            idempotency_key=f"swap-{i}",
            entries=[(src, D("-1")), (dst, D("1"))],
        )

    results = _run_threads(30, transfer)

    assert all(isinstance(r, LedgerTransaction) for r in results), results
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (D("100"), D("100"))
    assert ledger_reconcile().ok


def test_a_post_waiting_on_an_uncommitted_post_with_the_same_key_returns_it():
    """The loser of the race blocks on the winner's key, then gets its
    transaction back once it commits: one posting, debited once."""
    from django.db import transaction

    wallet = fund_wallet(UserFactory(), "USD", "10")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    entries = [(wallet, D("-4")), (reserve, D("4"))]
    first_posted = threading.Event()
    release = threading.Event()
    results = {}

    def winner():
        try:
            with transaction.atomic():
                results["winner"] = ledger_post(kind="trade", idempotency_key="K", entries=entries)
                first_posted.set()
                release.wait(10)  # commit only after the loser is waiting
        finally:
            connection.close()

    def loser():
        try:
            first_posted.wait(10)
            results["loser"] = ledger_post_result(
                kind="trade", idempotency_key="K", entries=entries
            )
        except Exception as exc:  # asserted below
            results["loser"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=winner), threading.Thread(target=loser)]
    for t in threads:
        t.start()
    first_posted.wait(10)
    threading.Event().wait(0.3)  # let the loser reach its lock wait
    assert "loser" not in results  # it is blocked behind the uncommitted winner
    release.set()
    for t in threads:
        t.join(20)

    assert isinstance(results["loser"], PostResult), results
    assert results["loser"].transaction.pk == results["winner"].pk
    assert results["loser"].replayed is True
    wallet.refresh_from_db()
    assert wallet.balance == D("6")


def test_random_concurrent_postings_lose_no_update():
    """Threads hammer overlapping accounts with transfers that sometimes
    overdraw: afterwards every cached balance equals its entries (no lost
    update), nothing is negative and USD still sums to zero."""
    import random

    wallets = [fund_wallet(UserFactory(), "USD", "5.00") for _ in range(4)]
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="USD")
    accounts = [*wallets, reserve, fees]

    def work(i: int):
        rng = random.Random(i)
        outcomes = []
        for n in range(25):
            src, dst = rng.sample(accounts, 2)
            amount = D(rng.randint(1, 300)) / 100
            try:
                ledger_post(
                    kind="adjustment",
                    idempotency_key=f"rand-{i}-{n}",
                    entries=[(src, -amount), (dst, amount)],
                )
                outcomes.append("ok")
            except InsufficientBalance:
                outcomes.append("refused")
        return outcomes

    results = _run_threads(8, work)

    flat = [o for r in results for o in r]
    assert len(flat) == 200, results
    assert {"ok", "refused"} <= set(flat)
    report = ledger_reconcile()
    assert report.ok, report.problems
    assert LedgerTransaction.objects.filter(kind="adjustment").count() == flat.count("ok") + 4


def test_first_use_of_a_wallet_from_many_threads_creates_one_account():
    from ledger.models import LedgerAccount
    from ledger.services import wallet_account

    user = UserFactory()

    def first_use(i: int):
        if i % 2:
            return house_account(kind=AccountKind.FEE_REVENUE, currency="SOL").pk
        return wallet_account(user=user, currency="SOL").pk

    results = _run_threads(12, first_use)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results[0::2])) == 1 and len(set(results[1::2])) == 1
    assert LedgerAccount.objects.filter(owner=user, currency="SOL").count() == 1
    assert LedgerAccount.objects.filter(owner=None, kind="fee_revenue", currency="SOL").count() == 1

"""Property-based: whatever sequence of postings is attempted, every currency
sums to zero over all accounts, cached balances equal their entries, and no
wallet or reserve goes below zero; refusals change nothing."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import money
from ledger.errors import InsufficientBalance
from ledger.models import NON_NEGATIVE_KINDS, AccountKind, LedgerAccount, LedgerEntry
from ledger.selectors import ledger_reconcile
from ledger.services import house_account, ledger_post, ledger_post_result, wallet_account
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CURRENCIES = ("USD", "UGX", "BTC")
HOUSE = (AccountKind.EQUITY, AccountKind.RESERVE, AccountKind.FEE_REVENUE)


@pytest.fixture
def book():
    """Per currency: three users' wallets and three house accounts."""
    users = [UserFactory() for _ in range(3)]
    return {
        code: [wallet_account(user=u, currency=code) for u in users]
        + [house_account(kind=k, currency=code) for k in HOUSE]
        for code in CURRENCIES
    }


# One operation: in a currency, move `units` smallest units from account i to
# j, optionally splitting off a fee to account k; `replay` re-sends an earlier key.
operation = st.tuples(
    st.sampled_from(CURRENCIES),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(0, 5),
    st.integers(1, 10**7),
    st.integers(0, 3),  # fee in smallest units (0: no fee leg)
    st.booleans(),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=20))
def test_random_postings_keep_the_ledger_balanced(book, ops):
    with transaction.atomic():  # each example starts from the same empty book
        expected = {acc.pk: Decimal(0) for accounts in book.values() for acc in accounts}
        kinds = {acc.pk: acc.kind for accounts in book.values() for acc in accounts}
        posted_keys: list[tuple[str, list]] = []
        for n, (code, i, j, k, units, fee_units, replay) in enumerate(ops):
            if replay and posted_keys:
                key, entries = posted_keys[n % len(posted_keys)]
                assert ledger_post_result(
                    kind="adjustment", idempotency_key=key, entries=entries
                ).replayed
                continue
            accounts = book[code]
            if i == j:
                j = (j + 1) % len(accounts)
            unit = money.currency(code).unit
            amount = units * unit
            fee = fee_units * unit
            src, dst, fee_acc = accounts[i], accounts[j], accounts[k]
            entries = [(src, -(amount + fee)), (dst, amount)]
            if fee:
                entries.append((fee_acc, fee))
            key = f"op-{n}"
            net: dict[int, Decimal] = {}
            for acc, amt in entries:
                net[acc.pk] = net.get(acc.pk, Decimal(0)) + amt
            would_go_negative = any(
                kinds[pk] in NON_NEGATIVE_KINDS and expected[pk] + d < 0 for pk, d in net.items()
            )
            try:
                ledger_post(kind="adjustment", idempotency_key=key, entries=entries)
            except InsufficientBalance:
                assert would_go_negative
            else:
                assert not would_go_negative
                for pk, d in net.items():
                    expected[pk] += d
                posted_keys.append((key, entries))

        cached = dict(LedgerAccount.objects.filter(pk__in=expected).values_list("pk", "balance"))
        assert cached == expected
        for code in CURRENCIES:
            assert (
                LedgerEntry.objects.filter(currency=code).aggregate(s=Sum("amount"))["s"] or 0
            ) == 0
        assert not LedgerAccount.objects.filter(kind__in=NON_NEGATIVE_KINDS, balance__lt=0).exists()
        report = ledger_reconcile()
        assert report.ok, report.problems
        transaction.set_rollback(True)

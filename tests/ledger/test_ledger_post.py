"""ledger_post: validation, balances, idempotency, non-negative wallets."""

from decimal import Decimal

import pytest

from ledger.errors import IdempotencyKeyReused, InsufficientBalance, InvalidPosting
from ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from ledger.selectors import balance_get, balances_for_user
from ledger.services import (
    house_account,
    ledger_post,
    ledger_post_result,
    reserve_fund,
    wallet_account,
)
from tests.factories import UserFactory, fund_wallet

pytestmark = pytest.mark.django_db

D = Decimal


def _balance(account: LedgerAccount) -> Decimal:
    account.refresh_from_db()
    return account.balance


def test_post_moves_value_and_updates_cached_balances():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "100.00")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="USD")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")

    result = ledger_post_result(
        kind="trade",
        idempotency_key="t-1",
        entries=[(wallet, D("-40.50")), (fees, D("0.50")), (reserve, D("40.00"))],
        actor=f"user:{user.pk}",
        reference="TRD-1",
    )

    txn = result.transaction
    assert txn.pk is not None and result.replayed is False
    stored = LedgerTransaction.objects.get(pk=txn.pk)
    assert (stored.kind, stored.reference, stored.actor) == ("trade", "TRD-1", f"user:{user.pk}")
    assert sorted(stored.entries.values_list("amount", flat=True)) == [
        D("-40.50"),
        D("0.50"),
        D("40.00"),
    ]
    assert _balance(wallet) == D("59.50")
    assert _balance(fees) == D("0.50")
    assert _balance(reserve) == D("40.00")
    assert balance_get(user=user, currency="USD") == D("59.50")
    assert balances_for_user(user=user) == {
        "BTC": D("0"),
        "ETH": D("0"),
        "SOL": D("0"),
        "TRX": D("0"),
        "USD": D("59.50"),
        "UGX": D("0"),
    }


def test_wallet_may_not_go_below_zero():
    user = UserFactory()
    wallet = fund_wallet(user, "UGX", "1000")
    reserve = house_account(kind=AccountKind.RESERVE, currency="UGX")

    with pytest.raises(InsufficientBalance) as exc:
        ledger_post(
            kind="trade",
            idempotency_key="too-much",
            entries=[(wallet, D("-1001")), (reserve, D("1001"))],
        )

    assert exc.value.status == 409
    assert exc.value.code == "insufficient_balance"
    assert exc.value.details == {"currency": "UGX", "available": "1000", "required": "1001"}
    assert _balance(wallet) == D("1000")
    assert not LedgerTransaction.objects.filter(idempotency_key="too-much").exists()


def test_exactly_the_whole_balance_can_be_spent():
    user = UserFactory()
    wallet = fund_wallet(user, "BTC", "0.00000001")
    reserve = house_account(kind=AccountKind.RESERVE, currency="BTC")
    ledger_post(
        kind="trade",
        idempotency_key="all",
        entries=[(wallet, D("-0.00000001")), (reserve, D("0.00000001"))],
    )
    assert _balance(wallet) == 0


def test_reserve_may_not_go_below_zero_and_its_figures_stay_private():
    user = UserFactory()
    wallet = wallet_account(user=user, currency="ETH")
    reserve_fund(currency="ETH", amount=D("1"), actor="test")
    reserve = house_account(kind=AccountKind.RESERVE, currency="ETH")

    with pytest.raises(InsufficientBalance) as exc:
        ledger_post(
            kind="trade", idempotency_key="r", entries=[(reserve, D("-2")), (wallet, D("2"))]
        )
    assert exc.value.details == {"currency": "ETH"}
    assert _balance(reserve) == D("1")


def test_other_house_accounts_may_go_negative():
    clearing = house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="UGX")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="UGX")
    ledger_post(kind="payout", idempotency_key="neg", entries=[(clearing, D("-5")), (fees, D("5"))])
    assert _balance(clearing) == D("-5")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (lambda w, r: [(w, D("-1"))], "at least two"),
        (lambda w, r: [(w, D("-1")), (r, D("2"))], "sum to zero"),
        (lambda w, r: [(w, D("0")), (r, D("0"))], "cannot be zero"),
        (lambda w, r: [(w, D("-0.001")), (r, D("0.001"))], "not a valid USD amount"),
        (lambda w, r: [(w, -1.5), (r, 1.5)], "finite Decimals"),
        (lambda w, r: [(w, D("NaN")), (r, D("1"))], "finite Decimals"),
        (lambda w, r: [(w, D("-1e20")), (r, D("1e20"))], "not a valid USD amount"),
        (
            lambda w, r: [(w, D("-1")), (LedgerAccount(currency="USD", kind="reserve"), D("1"))],
            "saved LedgerAccount",
        ),
        (lambda w, r: [(w, D("-1")), ("reserve", D("1"))], "saved LedgerAccount"),
        (lambda w, r: [(w, D("-1")), (w, D("1"))], "at least two accounts"),
    ],
)
def test_invalid_entries_are_refused_and_nothing_is_written(entries, message):
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "10")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    before = LedgerEntry.objects.count()

    with pytest.raises(InvalidPosting, match=message):
        ledger_post(kind="trade", idempotency_key="bad", entries=entries(wallet, reserve))

    assert LedgerEntry.objects.count() == before
    assert _balance(wallet) == D("10")


def test_mixed_currencies_must_balance_per_currency():
    user = UserFactory()
    usd = fund_wallet(user, "USD", "10")
    btc = wallet_account(user=user, currency="BTC")
    with pytest.raises(InvalidPosting, match="sum to zero"):
        ledger_post(kind="trade", idempotency_key="mix", entries=[(usd, D("-1")), (btc, D("1"))])

    usd_reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    btc_reserve = house_account(kind=AccountKind.RESERVE, currency="BTC")
    reserve_fund(currency="BTC", amount=D("1"), actor="test")
    ledger_post(
        kind="trade",
        idempotency_key="swap",
        entries=[
            (usd, D("-1")),
            (usd_reserve, D("1")),
            (btc_reserve, D("-0.00001")),
            (btc, D("0.00001")),
        ],
    )
    assert _balance(btc) == D("0.00001")


@pytest.mark.parametrize("kind", ["", "Trade", "trade kind", "x" * 33, None])
def test_bad_transaction_kind_is_refused(kind):
    a = house_account(kind=AccountKind.EQUITY, currency="USD")
    b = house_account(kind=AccountKind.FEE_REVENUE, currency="USD")
    with pytest.raises(InvalidPosting):
        ledger_post(kind=kind, idempotency_key="k", entries=[(a, D("-1")), (b, D("1"))])


@pytest.mark.parametrize("key", ["", "k" * 201, None])
def test_idempotency_key_is_required(key):
    a = house_account(kind=AccountKind.EQUITY, currency="USD")
    b = house_account(kind=AccountKind.FEE_REVENUE, currency="USD")
    with pytest.raises(InvalidPosting, match="idempotency key"):
        ledger_post(kind="trade", idempotency_key=key, entries=[(a, D("-1")), (b, D("1"))])


def test_same_key_twice_posts_once():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "10")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    entries = [(wallet, D("-3")), (reserve, D("3"))]

    first = ledger_post_result(kind="trade", idempotency_key="once", entries=entries)
    second = ledger_post_result(kind="trade", idempotency_key="once", entries=entries)
    again = ledger_post(kind="trade", idempotency_key="once", entries=entries)

    assert second.transaction.pk == first.transaction.pk == again.pk
    assert (first.replayed, second.replayed) == (False, True)
    assert LedgerTransaction.objects.filter(idempotency_key="once").count() == 1
    assert _balance(wallet) == D("7")


def test_replay_is_returned_even_when_the_balance_no_longer_covers_it():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "3")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    entries = [(wallet, D("-3")), (reserve, D("3"))]
    first = ledger_post(kind="trade", idempotency_key="spend", entries=entries)
    assert ledger_post(kind="trade", idempotency_key="spend", entries=entries).pk == first.pk
    assert _balance(wallet) == 0


def test_same_key_with_other_entries_is_a_conflict():
    user = UserFactory()
    wallet = fund_wallet(user, "USD", "10")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    ledger_post(kind="trade", idempotency_key="k1", entries=[(wallet, D("-3")), (reserve, D("3"))])

    with pytest.raises(IdempotencyKeyReused) as exc:
        ledger_post(
            kind="trade", idempotency_key="k1", entries=[(wallet, D("-4")), (reserve, D("4"))]
        )
    assert exc.value.status == 409
    with pytest.raises(IdempotencyKeyReused):
        ledger_post(
            kind="deposit", idempotency_key="k1", entries=[(wallet, D("-3")), (reserve, D("3"))]
        )
    assert _balance(wallet) == D("7")


def test_refusal_inside_a_callers_transaction_leaves_it_usable():
    from django.db import transaction

    user = UserFactory()
    wallet = fund_wallet(user, "USD", "1")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    with transaction.atomic():
        with pytest.raises(InsufficientBalance):
            ledger_post(
                kind="trade", idempotency_key="a", entries=[(wallet, D("-2")), (reserve, D("2"))]
            )
        # The same database transaction carries on and posts.
        ledger_post(
            kind="trade", idempotency_key="b", entries=[(wallet, D("-1")), (reserve, D("1"))]
        )
    assert _balance(wallet) == 0
    assert not LedgerTransaction.objects.filter(idempotency_key="a").exists()


def test_wallet_and_house_accounts_are_get_or_create():
    user = UserFactory()
    assert (
        wallet_account(user=user, currency="btc").pk == wallet_account(user=user, currency="BTC").pk
    )
    assert (
        house_account(kind="reserve", currency="SOL").pk
        == house_account(kind=AccountKind.RESERVE, currency="SOL").pk
    )
    assert LedgerAccount.objects.filter(owner=None, kind="reserve", currency="SOL").count() == 1


def test_unknown_currency_and_kind_are_clear_errors():
    from dtexchange.errors import InvalidInput

    user = UserFactory()
    with pytest.raises(InvalidInput) as exc:
        wallet_account(user=user, currency="DOGE")
    assert exc.value.code == "unknown_currency"
    with pytest.raises(InvalidInput) as exc:
        house_account(kind="user_wallet", currency="USD")
    assert exc.value.code == "unknown_account_kind"
    with pytest.raises(InvalidInput):
        balance_get(user=user, currency="XYZ")


def test_reversal_restores_balances_once():
    from dtexchange.errors import NotFound
    from ledger.services import ledger_reverse

    user = UserFactory()
    wallet = fund_wallet(user, "USD", "10")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="USD")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    txn = ledger_post(
        kind="trade",
        idempotency_key="to-reverse",
        entries=[(wallet, D("-4")), (fees, D("0.10")), (reserve, D("3.90"))],
        reference="TRD-9",
    )

    reversal = ledger_reverse(transaction_id=txn.pk, actor="staff:1", reason="duplicate charge")
    again = ledger_reverse(transaction_id=txn.pk, actor="staff:1", reason="duplicate charge")

    assert again.transaction.pk == reversal.transaction.pk
    assert (reversal.replayed, again.replayed) == (False, True)
    reversal = reversal.transaction
    stored = LedgerTransaction.objects.get(pk=reversal.pk)
    assert (stored.kind, stored.reference) == ("reversal", "TRD-9")
    assert stored.description == f"Reversal of #{txn.pk}: duplicate charge"
    assert (_balance(wallet), _balance(fees), _balance(reserve)) == (D("10"), D("0"), D("0"))
    with pytest.raises(NotFound):
        ledger_reverse(transaction_id=10**9, actor="staff:1", reason="x")


def test_reversing_money_already_spent_is_refused():
    from ledger.services import ledger_reverse

    user = UserFactory()
    wallet = wallet_account(user=user, currency="USD")
    equity = house_account(kind=AccountKind.EQUITY, currency="USD")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    credit = ledger_post(
        kind="deposit", idempotency_key="dep", entries=[(equity, D("-5")), (wallet, D("5"))]
    )
    ledger_post(
        kind="trade", idempotency_key="spend", entries=[(wallet, D("-5")), (reserve, D("5"))]
    )

    with pytest.raises(InsufficientBalance):
        ledger_reverse(transaction_id=credit.pk, actor="staff:1", reason="bounced")
    assert _balance(wallet) == 0

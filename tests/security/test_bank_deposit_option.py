"""A bank deposit is not a free option on the price: approved late or for
another amount it is priced when approved, never settled as crypto above the
method maximum, and arrived money always ends in the trade or the wallet."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from accounts.roles import DEPOSIT_REVIEWER
from dtexchange.four_eyes import four_eyes_required
from ledger.models import AccountKind
from ledger.selectors import balance_get
from ledger.services import house_account
from payments.models import BankDeposit, DecisionProposal
from payments.services import deposit_approve
from payments.services.four_eyes import deposit_approval_propose
from tests.factories import UserFactory, fund_reserves, set_prices
from tests.staff import staff_sign_in
from trading.models import Trade, TradeStatus
from trading.services import trade_buy
from trading.services.prices import StalePrice

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def reviewer():
    return UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)


def approve(deposit: BankDeposit, reviewer, amount: Decimal) -> None:
    """Approve as staff do: above the four-eyes threshold one reviewer
    proposes and a second confirms."""
    if four_eyes_required(amount, deposit.currency):
        second = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
        proposal = deposit_approval_propose(
            deposit_id=deposit.pk, reviewer=second, amount_received=amount
        )
        deposit_approve(
            deposit_id=deposit.pk,
            reviewer=reviewer,
            amount_received=amount,
            proposal_id=proposal.pk,
        )
    else:
        deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=amount)


def open_deposit(amount: str) -> tuple[Trade, BankDeposit]:
    trade = trade_buy(
        user=UserFactory(),
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=D(amount),
        payment_method="bank_deposit",
        payment_details={},
    )
    return trade, BankDeposit.objects.get(trade=trade)


def age(deposit: BankDeposit, minutes: int) -> None:
    BankDeposit.objects.filter(pk=deposit.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )
    deposit.refresh_from_db()


def clearing() -> Decimal:
    return house_account(kind=AccountKind.BANK_CLEARING, currency="UGX").balance


def test_a_late_approval_is_priced_at_the_price_of_the_approval(reviewer, settings):
    set_prices()
    fund_reserves()
    settings.BANK_DEPOSIT_PRICE_HOLD = timedelta(minutes=30)
    trade, deposit = open_deposit("1000000")  # at UGX 360,000,000 per BTC
    assert trade.exchange_rate == D("360000000")
    age(deposit, 180)
    set_prices({("BTC", "UGX"): "400000000"})  # the price rose meanwhile
    approve(deposit, reviewer, D("1000000"))
    trade.refresh_from_db()
    assert trade.status == TradeStatus.COMPLETED
    assert trade.exchange_rate == D("400000000")
    # 1,000,000 less the 1.5 % bank fee, at today's price: 985,000 / 400,000,000.
    assert trade.crypto_amount == D("0.00246250")
    assert balance_get(user=trade.user, currency="BTC") == D("0.00246250")
    call_command("reconcile_ledger")


def test_an_approval_within_the_hold_for_the_expected_amount_keeps_the_orders_rate(reviewer):
    set_prices()
    fund_reserves()
    trade, deposit = open_deposit("1000000")
    set_prices({("BTC", "UGX"): "400000000"})
    approve(deposit, reviewer, D("1000000"))
    trade.refresh_from_db()
    assert trade.exchange_rate == D("360000000")
    assert trade.crypto_amount == D("0.00273611")


def test_another_amount_is_priced_at_the_price_of_the_approval(reviewer):
    """Open the minimum, wait for the price to rise, send more: the larger
    amount never buys at the old rate."""
    set_prices()
    fund_reserves()
    trade, deposit = open_deposit("10000")
    set_prices({("BTC", "UGX"): "400000000"})
    approve(deposit, reviewer, D("50000000"))
    trade.refresh_from_db()
    assert trade.exchange_rate == D("400000000")
    assert trade.fiat_amount == D("50000000")
    assert trade.crypto_amount == D("0.12312500")  # 49,250,000 / 400,000,000


def test_above_the_maximum_only_the_maximum_becomes_crypto_the_rest_goes_to_the_wallet(
    reviewer, settings
):
    set_prices()
    fund_reserves()
    maximum = settings.PAYMENT_LIMITS["bank_deposit"]["UGX"][1]
    assert maximum == D("200000000")
    trade, deposit = open_deposit("10000")
    approve(deposit, reviewer, D("250000000"))
    trade.refresh_from_db()
    deposit.refresh_from_db()
    assert trade.status == TradeStatus.COMPLETED
    assert trade.fiat_amount == maximum
    assert trade.crypto_amount == D("0.54722222")  # 197,000,000 / 360,000,000, rounded down
    # The other 50,000,000 is in the wallet, less the bank fee, and flagged.
    assert balance_get(user=trade.user, currency="UGX") == D("49250000")
    assert deposit.flagged and "above the maximum" in deposit.flag_reason
    # Nothing disappeared: the bank clearing account shows every shilling that arrived.
    assert clearing() == D("-250000000")
    fees = house_account(kind=AccountKind.FEE_REVENUE, currency="UGX").balance
    assert fees == D("3000000") + D("750000")
    call_command("reconcile_ledger")


def test_a_reserve_that_cannot_cover_the_repriced_trade_sends_the_money_to_the_wallet(reviewer):
    set_prices()
    fund_reserves({"BTC": "0.01", "UGX": "1000000"})
    trade, deposit = open_deposit("10000")
    approve(deposit, reviewer, D("50000000"))
    trade.refresh_from_db()
    deposit.refresh_from_db()
    assert trade.status == TradeStatus.FAILED
    assert balance_get(user=trade.user, currency="UGX") == D("50000000")
    assert balance_get(user=trade.user, currency="BTC") == 0
    assert deposit.status == BankDeposit.Status.APPROVED and deposit.flagged
    assert clearing() == D("-50000000")
    call_command("reconcile_ledger")


def test_no_re_pricing_on_a_stale_price_writes_nothing(reviewer, settings):
    set_prices()
    fund_reserves()
    _trade, deposit = open_deposit("1000000")
    settings.PRICE_MAX_AGE = timedelta(seconds=0)
    with pytest.raises(StalePrice):
        approve(deposit, reviewer, D("2000000"))
    assert BankDeposit.objects.get(pk=deposit.pk).status == BankDeposit.Status.PENDING
    assert clearing() == 0


def test_re_pricing_needs_a_price_as_fresh_as_a_quote_not_merely_one_still_shown(
    reviewer, settings
):
    """A re-priced deposit sells crypto at today's price: a price 30 s old is
    still shown (PRICE_MAX_AGE 60 s) but too old to give away (20 s)."""
    settings.PRICE_MAX_AGE = timedelta(seconds=60)
    settings.QUOTE_PRICE_MAX_AGE = timedelta(seconds=20)
    set_prices()
    fund_reserves()
    trade, deposit = open_deposit("1000000")
    age(deposit, 180)
    set_prices({("BTC", "UGX"): "400000000"})
    with freeze_time(timezone.now() + timedelta(seconds=30)):
        with pytest.raises(StalePrice) as refused:
            approve(deposit, reviewer, D("1000000"))
        assert refused.value.details["max_age_seconds"] == 20
    assert BankDeposit.objects.get(pk=deposit.pk).status == BankDeposit.Status.PENDING
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.PENDING
    assert clearing() == 0
    with freeze_time(timezone.now() + timedelta(seconds=15)):
        approve(deposit, reviewer, D("1000000"))
    trade.refresh_from_db()
    assert trade.status == TradeStatus.COMPLETED
    assert trade.exchange_rate == D("400000000")


def test_the_reviewer_sees_the_figures_before_approving(reviewer, client, settings):
    set_prices()
    fund_reserves()
    _trade, deposit = open_deposit("10000")
    age(deposit, 120)
    set_prices({("BTC", "UGX"): "400000000"})
    staff_sign_in(client, reviewer)
    url = f"/admin/payments/bankdeposit/{deposit.pk}/approve/"
    page = client.post(url, {"amount_received": "250000000"}).content.decode()
    assert "Check the figures before approving" in page
    assert "UGX 400,000,000" in page and "UGX 360,000,000" in page  # now and the order's rate
    assert "more than 30 minutes after the order" in page
    assert "UGX 50,000,000" in page and "flagged" in page  # the rest, to the wallet
    assert BankDeposit.objects.get(pk=deposit.pk).status == BankDeposit.Status.PENDING
    # Above the four-eyes threshold: proposed here, confirmed by a second
    # reviewer, who sees the same figures.
    done = client.post(url, {"amount_received": "250000000", "confirmed": "yes"})
    assert done.status_code == 302
    proposal = DecisionProposal.objects.get(deposit=deposit)
    second = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    other = Client()
    staff_sign_in(other, second)
    confirm = f"/admin/payments/bankdeposit/{deposit.pk}/confirm/{proposal.pk}/"
    page = other.get(confirm).content.decode()
    assert "UGX 400,000,000" in page and "UGX 50,000,000" in page
    assert other.post(confirm).status_code == 302
    deposit.refresh_from_db()
    assert deposit.status == BankDeposit.Status.APPROVED and deposit.flagged

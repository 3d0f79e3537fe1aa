"""Bank-deposit buys: the reference code, reviewers' decisions (services and
the admin queue), and two reviewers approving at once."""

import re
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.roles import DEPOSIT_REVIEWER
from dtexchange.errors import InvalidInput
from ledger.models import AccountKind, LedgerEntry, LedgerTransaction
from ledger.selectors import balance_get
from ledger.services import house_account
from payments.errors import DepositAlreadyDecided, NotAReviewer
from payments.models import BankDeposit, DepositDecision
from payments.selectors import deposit_preview
from payments.services import deposit_approve, deposit_reject
from payments.services.deposits import REFERENCE_ALPHABET
from tests.factories import UserFactory, fund_reserves, ledger_rows, set_prices
from tests.staff import staff_sign_in
from trading.models import Trade, TradeStatus
from trading.services import trade_buy


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


@pytest.fixture
def reviewer():
    return UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)


def deposit_buy(user=None, amount="1000000"):
    trade = trade_buy(
        user=user or UserFactory(),
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal(amount),
        payment_method="bank_deposit",
        payment_details={},
    )
    return trade, BankDeposit.objects.get(trade=trade)


def bank_clearing():
    account = house_account(kind=AccountKind.BANK_CLEARING, currency="UGX")
    account.refresh_from_db()
    return account.balance


@pytest.mark.django_db
def test_a_bank_buy_waits_with_a_typable_reference_and_the_bank_details(market, settings):
    trade, deposit = deposit_buy()
    code = trade.instructions["reference_code"]
    assert code == deposit.reference_code
    assert re.fullmatch(rf"DTX-[{REFERENCE_ALPHABET}]{{4}}-[{REFERENCE_ALPHABET}]{{4}}", code)
    assert not set(code[4:].replace("-", "")) & set("0O1IL")
    assert trade.instructions["bank"] == settings.BANK_INSTRUCTIONS
    assert trade.status == TradeStatus.PENDING
    assert deposit.expected_amount == trade.fiat_amount == Decimal("1000000")


@pytest.mark.django_db
def test_approving_the_expected_amount_settles_once_with_an_audit_row(market, reviewer):
    trade, deposit = deposit_buy()
    before = ledger_rows()
    deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("1000000"))
    trade.refresh_from_db()
    assert trade.status == TradeStatus.COMPLETED
    assert ledger_rows()[0] == before[0] + 1
    assert bank_clearing() == Decimal("-1000000")
    assert balance_get(user=trade.user, currency="BTC") == trade.crypto_amount
    decision = DepositDecision.objects.get()
    assert (decision.decision, decision.actor, decision.amount_received) == (
        "approved",
        reviewer,
        Decimal("1000000"),
    )
    assert decision.ledger_reference == f"trade:{trade.public_id}:settle"
    with pytest.raises(DepositAlreadyDecided):
        deposit_approve(
            deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("1000000")
        )
    assert ledger_rows()[0] == before[0] + 1
    call_command("reconcile_ledger")


@pytest.mark.django_db
def test_a_different_amount_settles_re_priced_as_previewed(market, reviewer):
    trade, deposit = deposit_buy()
    preview = deposit_preview(deposit=deposit, amount_received=Decimal("900000"))
    assert preview.differs and preview.crypto_amount < trade.crypto_amount
    deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("900000"))
    trade.refresh_from_db()
    assert trade.fiat_amount == Decimal("900000")
    assert trade.crypto_amount == preview.crypto_amount
    assert trade.fee_amount == preview.fee_amount
    assert bank_clearing() == Decimal("-900000")
    call_command("reconcile_ledger")


@pytest.mark.django_db
def test_rejecting_needs_a_reason_and_fails_the_trade_without_money_moving(market, reviewer):
    trade, deposit = deposit_buy()
    before = ledger_rows()
    with pytest.raises(InvalidInput) as exc:
        deposit_reject(deposit_id=deposit.pk, reviewer=reviewer, reason="  ")
    assert "reason" in exc.value.details
    assert BankDeposit.objects.get(pk=deposit.pk).status == "pending"
    deposit_reject(deposit_id=deposit.pk, reviewer=reviewer, reason="No transfer on statement")
    trade.refresh_from_db()
    assert trade.status == TradeStatus.FAILED
    assert ledger_rows() == before
    with pytest.raises(DepositAlreadyDecided):  # approving a rejected deposit is impossible
        deposit_approve(
            deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("1000000")
        )
    assert ledger_rows() == before
    assert list(DepositDecision.objects.values_list("decision", flat=True)) == ["rejected"]


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["0", "-5", "100.5", "NaN"])
def test_bad_received_amounts_are_refused(market, reviewer, amount):
    _, deposit = deposit_buy()
    with pytest.raises(InvalidInput):
        deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal(amount))
    assert BankDeposit.objects.get(pk=deposit.pk).status == "pending"


@pytest.mark.django_db
def test_only_reviewers_decide(market):
    _, deposit = deposit_buy()
    with pytest.raises(NotAReviewer):
        deposit_approve(
            deposit_id=deposit.pk,
            reviewer=UserFactory(is_staff=True),
            amount_received=Decimal("1000000"),
        )


@pytest.mark.django_db
def test_a_deposit_for_an_expired_trade_is_credited_to_the_wallet_less_the_bank_fee(
    market, reviewer, settings
):
    trade, deposit = deposit_buy()
    Trade.objects.filter(pk=trade.pk).update(status=TradeStatus.EXPIRED)
    deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("1000000"))
    # The bank fee, as a bank-deposit buy pays: expiring the order avoids nothing.
    assert settings.FEE_RATES["bank_deposit"] == Decimal("0.015")
    assert balance_get(user=trade.user, currency="UGX") == Decimal("985000")
    assert house_account(kind="fee_revenue", currency="UGX").balance == Decimal("15000")
    assert balance_get(user=trade.user, currency="BTC") == 0
    call_command("reconcile_ledger")


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_approving_at_once_post_exactly_once(market):
    trade, deposit = deposit_buy()
    reviewers = [UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True) for _ in range(2)]
    before = ledger_rows()[0]
    barrier = threading.Barrier(2)
    results = []

    def approve(who):
        try:
            barrier.wait()
            deposit_approve(deposit_id=deposit.pk, reviewer=who, amount_received=Decimal("1000000"))
            results.append("approved")
        except DepositAlreadyDecided:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(r,)) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["approved", "conflict"]
    assert ledger_rows()[0] == before + 1
    assert DepositDecision.objects.count() == 1
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    call_command("reconcile_ledger")


# --- the admin queue -------------------------------------------------------------


@pytest.mark.django_db
def test_customers_and_other_staff_cannot_reach_the_queue(market, client):
    deposit_buy()
    url = "/admin/payments/bankdeposit/"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 302  # to the admin login
    staff_sign_in(client, UserFactory(is_staff=True))
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_reviewers_see_pending_deposits_oldest_first(market, client, reviewer):
    _, first = deposit_buy(UserFactory(email="first@example.test"))
    _, second = deposit_buy(UserFactory(email="second@example.test"), amount="2000000")
    staff_sign_in(client, reviewer)
    body = client.get("/admin/payments/bankdeposit/").content.decode()
    assert body.index(first.reference_code) < body.index(second.reference_code)
    assert "first@example.test" in body and "UGX 2,000,000" in body


@pytest.mark.django_db
def test_approving_a_different_amount_in_the_admin_asks_for_confirmation(market, client, reviewer):
    _trade, deposit = deposit_buy()
    staff_sign_in(client, reviewer)
    url = f"/admin/payments/bankdeposit/{deposit.pk}/approve/"
    assert client.get(url).status_code == 200
    before = ledger_rows()
    page = client.post(url, {"amount_received": "900,000"})
    assert page.status_code == 200
    text = page.content.decode()
    preview = deposit_preview(deposit=deposit, amount_received=Decimal("900000"))
    assert "Confirm approval" in text and f"{preview.crypto_amount} BTC" in text
    assert ledger_rows() == before and BankDeposit.objects.get().status == "pending"
    done = client.post(url, {"amount_received": "900000", "confirmed": "yes"})
    assert done.status_code == 302
    assert BankDeposit.objects.get().status == "approved"
    assert ledger_rows()[0] == before[0] + 1


@pytest.mark.django_db
def test_rejecting_in_the_admin_requires_a_reason(market, client, reviewer):
    _, deposit = deposit_buy()
    staff_sign_in(client, reviewer)
    url = f"/admin/payments/bankdeposit/{deposit.pk}/reject/"
    assert "A reason is required" in client.post(url, {"reason": ""}).content.decode()
    assert BankDeposit.objects.get().status == "pending"
    assert client.post(url, {"reason": "Not on the statement"}).status_code == 302
    assert BankDeposit.objects.get().status == "rejected"
    assert DepositDecision.objects.get().actor == reviewer


@pytest.mark.django_db
def test_reviewers_cannot_edit_ledger_rows_or_decisions(market, client, reviewer):
    _, deposit = deposit_buy()
    deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("1000000"))
    staff_sign_in(client, reviewer)
    entry = LedgerEntry.objects.first()
    txn = LedgerTransaction.objects.first()
    decision = DepositDecision.objects.get()
    for url in (
        f"/admin/ledger/ledgerentry/{entry.pk}/change/",
        f"/admin/ledger/ledgerentry/{entry.pk}/delete/",
        f"/admin/ledger/ledgertransaction/{txn.pk}/delete/",
        f"/admin/payments/depositdecision/{decision.pk}/delete/",
    ):
        assert client.post(url, {"post": "yes", "amount": "1"}).status_code in (302, 403), url
    assert LedgerEntry.objects.filter(pk=entry.pk, amount=entry.amount).exists()
    assert DepositDecision.objects.filter(pk=decision.pk).exists()
    assert client.get(f"/admin/payments/bankdeposit/{deposit.pk}/delete/").status_code == 403

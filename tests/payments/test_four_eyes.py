"""Nobody decides about their own money, and above FOUR_EYES_THRESHOLDS two
different staff members must agree: one proposes, another confirms; both are
recorded and shown. Also concurrently, on PostgreSQL: one person can never
both propose and confirm."""

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from dtexchange.four_eyes import FourEyesRequired, OwnMoneyRefused, SamePersonRefused
from ledger.models import LedgerTransaction
from payments.errors import DepositAlreadyDecided, ProposalAlreadyOpen
from payments.models import (
    BankDeposit,
    DecisionProposal,
    DepositDecision,
    MobileMoneyPayment,
    PaymentResolution,
)
from payments.phone import msisdn_parse
from payments.services import (
    deposit_approval_propose,
    deposit_approve,
    deposit_reject,
    flag_credit_propose,
    mobile_money_apply_status,
    mobile_money_flag_resolve,
    mobile_money_payment_create,
)
from tests.factories import UserFactory, fund_reserves, set_prices
from tests.staff import staff_sign_in
from trading.models import TradeStatus
from trading.services import trade_buy

BIG = Decimal("3000000")  # above the UGX threshold set below
SMALL = Decimal("1000000")


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.FOUR_EYES_THRESHOLDS = {"UGX": Decimal("2000000"), "USD": Decimal("500")}


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


def reviewer(**extra):
    return UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True, **extra)


def deposit_for(user, amount=BIG) -> BankDeposit:
    trade = trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=amount,
        payment_method="bank_deposit",
        payment_details={},
    )
    return BankDeposit.objects.get(trade=trade)


# --- nobody decides about their own money ------------------------------------


@pytest.mark.django_db
def test_a_reviewer_cannot_approve_or_reject_their_own_deposit(market):
    me = reviewer()
    deposit = deposit_for(me, SMALL)
    with pytest.raises(OwnMoneyRefused):
        deposit_approve(deposit_id=deposit.pk, reviewer=me, amount_received=SMALL)
    with pytest.raises(OwnMoneyRefused):
        deposit_reject(deposit_id=deposit.pk, reviewer=me, reason="no transfer")
    with pytest.raises(OwnMoneyRefused):
        deposit_approval_propose(deposit_id=deposit.pk, reviewer=me, amount_received=BIG)
    deposit.refresh_from_db()
    assert deposit.status == BankDeposit.Status.PENDING
    assert not DepositDecision.objects.exists()
    assert not DecisionProposal.objects.exists()
    # Someone else may.
    deposit_approve(deposit_id=deposit.pk, reviewer=reviewer(), amount_received=SMALL)
    deposit.refresh_from_db()
    assert deposit.status == BankDeposit.Status.APPROVED


def _flagged_payment(user, amount="5000") -> MobileMoneyPayment:
    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction="collection",
            user=user,
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal(amount),
            currency="UGX",
            submit=False,
        )
    short = str(Decimal(amount) - 100)
    assert (
        mobile_money_apply_status(
            payment_id=payment.pk,
            status="success",
            amount=Decimal(short),
            currency="UGX",
            internal_reference=f"rw-{payment.reference}",
            raw={"status": "success", "amount": short, "currency": "UGX"},
            source="poll",
        )
        == "flagged"
    )
    return MobileMoneyPayment.objects.get(pk=payment.pk)


@pytest.mark.django_db
def test_a_resolver_cannot_resolve_a_flag_on_their_own_payment(market):
    me = UserFactory(roles=[ADMIN], is_staff=True)
    payment = _flagged_payment(me)
    for outcome, amount in (("credited", Decimal("4900")), ("dismissed", None)):
        with pytest.raises(OwnMoneyRefused):
            mobile_money_flag_resolve(
                payment_id=payment.pk, actor=me, outcome=outcome, note="mine", amount=amount
            )
    assert not PaymentResolution.objects.exists()
    mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer(),
        outcome="credited",
        note="checked",
        amount=Decimal("4900"),
    )


# --- four eyes above the threshold ---------------------------------------------


@pytest.mark.django_db
def test_a_large_deposit_needs_a_proposal_and_a_different_confirmer(market):
    first, second = reviewer(email="first@dtx.test"), reviewer(email="second@dtx.test")
    deposit = deposit_for(UserFactory())
    with pytest.raises(FourEyesRequired) as refused:
        deposit_approve(deposit_id=deposit.pk, reviewer=first, amount_received=BIG)
    assert refused.value.details == {"threshold": "2000000", "currency": "UGX"}
    proposal = deposit_approval_propose(
        deposit_id=deposit.pk, reviewer=first, amount_received=BIG, reason="on statement"
    )
    deposit.refresh_from_db()
    assert deposit.status == BankDeposit.Status.PENDING  # nothing moved yet
    assert deposit.trade.status == TradeStatus.PENDING
    with pytest.raises(ProposalAlreadyOpen):
        deposit_approval_propose(deposit_id=deposit.pk, reviewer=second, amount_received=BIG)
    with pytest.raises(SamePersonRefused):
        deposit_approve(
            deposit_id=deposit.pk, reviewer=first, amount_received=BIG, proposal_id=proposal.pk
        )
    deposit_approve(
        deposit_id=deposit.pk,
        reviewer=second,
        amount_received=Decimal("1"),  # ignored: the proposal's amount is what is confirmed
        proposal_id=proposal.pk,
    )
    deposit.refresh_from_db()
    deposit.trade.refresh_from_db()
    assert deposit.status == BankDeposit.Status.APPROVED
    assert deposit.amount_received == BIG
    assert deposit.trade.status == TradeStatus.COMPLETED
    decision = DepositDecision.objects.get()
    assert (decision.actor, decision.proposed_by_email, decision.proposal) == (
        second,
        "first@dtx.test",
        proposal,
    )
    assert decision.reason == "on statement"
    proposal.refresh_from_db()
    assert proposal.status == DecisionProposal.Status.CONFIRMED
    assert (proposal.proposed_by, proposal.confirmed_by) == (first, second)
    with pytest.raises(DepositAlreadyDecided):
        deposit_approve(
            deposit_id=deposit.pk, reviewer=second, amount_received=BIG, proposal_id=proposal.pk
        )


@pytest.mark.django_db
def test_rejecting_closes_an_open_proposal(market):
    first, second = reviewer(), reviewer()
    deposit = deposit_for(UserFactory())
    proposal = deposit_approval_propose(deposit_id=deposit.pk, reviewer=first, amount_received=BIG)
    deposit_reject(deposit_id=deposit.pk, reviewer=second, reason="not on the statement")
    proposal.refresh_from_db()
    assert proposal.status == DecisionProposal.Status.CLOSED
    assert proposal.closed_by_email == second.email


@pytest.mark.django_db
def test_the_database_refuses_a_proposer_confirming_their_own_proposal(market):
    first = reviewer()
    deposit = deposit_for(UserFactory())
    proposal = deposit_approval_propose(deposit_id=deposit.pk, reviewer=first, amount_received=BIG)
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionProposal.objects.filter(pk=proposal.pk).update(
            status="confirmed", confirmed_by=first
        )


@pytest.mark.django_db
def test_a_large_flag_credit_needs_two_resolvers(market, settings):
    settings.FOUR_EYES_THRESHOLDS = {"UGX": Decimal("1000")}
    first = reviewer(email="one@dtx.test")
    second = UserFactory(roles=[ADMIN], is_staff=True, email="two@dtx.test")
    payment = _flagged_payment(UserFactory())
    with pytest.raises(FourEyesRequired):
        mobile_money_flag_resolve(
            payment_id=payment.pk, actor=first, outcome="credited", note="x", amount=Decimal(4900)
        )
    proposal = flag_credit_propose(
        payment_id=payment.pk, actor=first, amount=Decimal("4900"), note="Relworx shows 4,900"
    )
    with pytest.raises(SamePersonRefused):
        mobile_money_flag_resolve(
            payment_id=payment.pk, actor=first, outcome="credited", proposal_id=proposal.pk
        )
    resolution = mobile_money_flag_resolve(
        payment_id=payment.pk, actor=second, outcome="credited", proposal_id=proposal.pk
    )
    assert resolution.amount_credited == Decimal("4900")
    assert (resolution.actor, resolution.proposed_by_email) == (second, "one@dtx.test")
    assert resolution.note == "Relworx shows 4,900"
    # Dismissing below nothing: a small dismissal is one person's call.
    other = _flagged_payment(UserFactory())
    mobile_money_flag_resolve(payment_id=other.pk, actor=first, outcome="dismissed", note="ok")


# --- concurrently, on PostgreSQL -------------------------------------------------


def _race(calls):
    """Run each call in its own thread and connection, all at once."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = ("ok", call())
        except Exception as exc:  # each outcome is asserted below
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrently_the_proposer_never_confirms_and_one_other_confirms_once(market):
    first, second = reviewer(), reviewer()
    deposit = deposit_for(UserFactory())
    proposal = deposit_approval_propose(deposit_id=deposit.pk, reviewer=first, amount_received=BIG)

    def confirm(who):
        return lambda: deposit_approve(
            deposit_id=deposit.pk, reviewer=who, amount_received=BIG, proposal_id=proposal.pk
        )

    results = _race([confirm(first)] * 4 + [confirm(second)] * 2)
    oks = [r for r in results if r[0] == "ok"]
    assert len(oks) == 1
    errors = {type(r[1]).__name__ for r in results if r[0] == "error"}
    assert errors <= {"SamePersonRefused", "DepositAlreadyDecided", "ProposalNotOpen"}
    decision = DepositDecision.objects.get()
    assert decision.actor == second
    assert decision.proposed_by_email == first.email
    assert (
        LedgerTransaction.objects.filter(
            idempotency_key=f"trade:{deposit.trade.public_id}:settle"
        ).count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_concurrently_one_person_alone_can_never_decide_a_large_deposit(market):
    alone = reviewer()
    deposit = deposit_for(UserFactory())

    def propose():
        return deposit_approval_propose(deposit_id=deposit.pk, reviewer=alone, amount_received=BIG)

    def approve_directly():
        return deposit_approve(deposit_id=deposit.pk, reviewer=alone, amount_received=BIG)

    def confirm_whatever_is_open():
        proposal = DecisionProposal.objects.filter(deposit=deposit).first()
        return deposit_approve(
            deposit_id=deposit.pk,
            reviewer=alone,
            amount_received=BIG,
            proposal_id=proposal.pk if proposal else 0,
        )

    for _ in range(3):
        _race([propose, propose, approve_directly, confirm_whatever_is_open] * 2)
    deposit.refresh_from_db()
    assert deposit.status == BankDeposit.Status.PENDING
    assert not DepositDecision.objects.exists()
    assert DecisionProposal.objects.filter(deposit=deposit).count() == 1  # one open, still


# --- shown in the admin -------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_shows_both_people_and_the_second_one_confirms(market, client):
    from django.test import Client

    first, second = reviewer(email="p@dtx.test"), reviewer(email="c@dtx.test")
    deposit = deposit_for(UserFactory())
    staff_sign_in(client, first)
    response = client.post(
        f"/admin/payments/bankdeposit/{deposit.pk}/approve/",
        {"amount_received": str(BIG), "reason": "seen", "confirmed": "yes"},
        follow=True,
    )
    assert b"A different reviewer must confirm it" in response.content
    proposal = DecisionProposal.objects.get()
    assert b"Proposed by p@dtx.test" in client.get("/admin/payments/bankdeposit/").content
    page = client.get(f"/admin/payments/bankdeposit/{deposit.pk}/confirm/{proposal.pk}/")
    assert b"You proposed this" in page.content
    refused = client.post(
        f"/admin/payments/bankdeposit/{deposit.pk}/confirm/{proposal.pk}/", follow=True
    )
    assert b"cannot also confirm" in refused.content
    other = Client()
    staff_sign_in(other, second)
    page = other.get(f"/admin/payments/bankdeposit/{deposit.pk}/confirm/{proposal.pk}/")
    assert b"Confirm approval" in page.content and b"p@dtx.test" in page.content
    done = other.post(
        f"/admin/payments/bankdeposit/{deposit.pk}/confirm/{proposal.pk}/", follow=True
    )
    assert b"proposed by p@dtx.test, confirmed by c@dtx.test" in done.content
    decisions = other.get("/admin/payments/depositdecision/").content
    assert b"p@dtx.test" in decisions and b"c@dtx.test" in decisions

"""Bank deposits: a reference code per buy, then a reviewer's decision.

Each decision is one service call: under the deposit's row lock, a
compare-and-set out of ``pending`` (so two reviewers clicking at once give
exactly one decision), at most one ledger posting (through
``trade_settle_buy`` from the bank clearing account), and one audit row.
"""

from __future__ import annotations

import contextlib
import secrets
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import DEPOSIT_REVIEWER, user_has_role
from audit.services import audit_record
from dtexchange.errors import InvalidInput
from dtexchange.four_eyes import (
    FourEyesRequired,
    four_eyes_required,
    four_eyes_threshold,
    refuse_own_money,
)
from ledger.money import fmt, has_valid_precision, quantize
from ledger.services import house_account
from payments.errors import DepositAlreadyDecided, NotAReviewer
from payments.models import BankDeposit, DepositDecision
from payments.selectors import deposit_preview
from payments.services.four_eyes import proposal_take_for_confirmation, proposals_close
from trading.selectors.trades import trade_is_open
from trading.services import fiat_wallet_credit, trade_fail, trade_settle_buy
from trading.services.trades import InsufficientLiquidity, TradeNotSettleable

log = structlog.get_logger(__name__)

# Human-typable: no 0/O, 1/I/L; grouped for reading out over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CLEARING = "bank_clearing"


def new_reference_code() -> str:
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"DTX-{chars[:4]}-{chars[4:]}"


def bank_deposit_create(*, trade) -> BankDeposit:
    """The deposit a bank-transfer buy waits on (caller's transaction)."""
    for _ in range(5):
        try:
            with transaction.atomic():
                return BankDeposit.objects.create(
                    trade_id=trade.pk,
                    user=trade.user,
                    reference_code=new_reference_code(),
                    expected_amount=quantize(trade.fiat_amount, trade.fiat_currency),
                    currency=trade.fiat_currency,
                )
        except IntegrityError:
            continue  # a reference code collision (31^8 codes): draw again
    raise RuntimeError("Could not draw a unique deposit reference code.")


def bank_deposit_create_for_top_up(*, deposit) -> BankDeposit:
    """The bank deposit a wallet top-up waits on (caller's transaction)."""
    for _ in range(5):
        try:
            with transaction.atomic():
                return BankDeposit.objects.create(
                    top_up_id=deposit.pk,
                    user=deposit.user,
                    reference_code=new_reference_code(),
                    expected_amount=deposit.amount,
                    currency=deposit.currency,
                )
        except IntegrityError:
            continue  # a reference code collision: draw again
    raise RuntimeError("Could not draw a unique deposit reference code.")


def lock_pending_deposit(deposit_id: int, reviewer) -> BankDeposit:
    """The pending deposit, row-locked, that ``reviewer`` may decide: a
    deposit reviewer, and not its owner (nobody decides about their own money)."""
    if not user_has_role(reviewer, DEPOSIT_REVIEWER):
        raise NotAReviewer()
    deposit = (
        BankDeposit.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=deposit_id)
        .first()
    )
    if deposit is None:
        raise InvalidInput("No such deposit.", code="deposit_not_found")
    if deposit.status != BankDeposit.Status.PENDING:
        raise DepositAlreadyDecided(details={"status": deposit.status})
    refuse_own_money(owner_id=deposit.user_id, staff=reviewer)
    return deposit


def check_amount_received(amount_received, currency: str) -> Decimal:
    if (
        not isinstance(amount_received, Decimal)
        or not amount_received.is_finite()
        or amount_received <= 0
        or not has_valid_precision(amount_received, currency)
    ):
        raise InvalidInput(
            "Enter the amount received, in whole units of the currency.",
            code="invalid_amount",
            details={"amount_received": [f"A positive {currency} amount."]},
        )
    return amount_received


def _decide(deposit: BankDeposit, *, status: str, reviewer, **fields) -> None:
    now = timezone.now()
    changed = BankDeposit.objects.filter(pk=deposit.pk, status=BankDeposit.Status.PENDING).update(
        status=status, reviewed_by=reviewer, reviewed_at=now, **fields
    )
    if changed != 1:  # the lock makes this unreachable; the CAS is the backstop
        raise DepositAlreadyDecided()
    deposit.status, deposit.reviewed_by, deposit.reviewed_at = status, reviewer, now
    for name, value in fields.items():
        setattr(deposit, name, value)


def _flag(deposit: BankDeposit, reason: str) -> None:
    deposit.flagged = True
    deposit.flag_reason = (deposit.flag_reason + "\n" + reason).strip()
    BankDeposit.objects.filter(pk=deposit.pk).update(flagged=True, flag_reason=deposit.flag_reason)
    log.warning("deposit.flagged", deposit=deposit.reference_code, reason=reason)


def _wallet_credit(deposit: BankDeposit, *, amount: Decimal, key: str, why: str, fee: bool):
    fiat_wallet_credit(
        user=deposit.user,
        currency=deposit.currency,
        amount=amount,
        funding_account=house_account(kind=CLEARING, currency=deposit.currency),
        idempotency_key=key,
        reason=f"Your bank transfer {deposit.reference_code} {why}.",
        payment_method="bank_deposit",
        payment_reference=deposit.reference_code,
        charge_fee=fee,
    )


def _deposit_settle(deposit: BankDeposit, *, amount_received: Decimal, actor: str) -> str:
    """Move the money of an approved deposit (the caller holds its row):
    the plan of deposit_preview, so the reviewer saw these figures.

    * The trade closed meanwhile (expired, cancelled): everything to the
      fiat wallet, less the bank fee (as the buy would have paid).
    * Else the trade settles on at most the method maximum, re-priced at the
      current price when late, for another amount or above the maximum; the
      reserve is checked again by the posting. The rest above the maximum
      goes to the fiat wallet, less the fee, and the deposit is flagged.
    * The reserve cannot cover the re-priced trade: the money goes to the
      fiat wallet in full (the house could not fill it), the trade fails and
      the deposit is flagged.
    * A wallet top-up: the whole amount received credits the wallet, less
      the top-up's fee (wallet.services.top_up_complete, once).
    Arrived money always ends in the trade or the wallet. Returns the ledger
    key of the main posting."""
    if deposit.top_up_id:
        from wallet.services import top_up_complete

        top_up = top_up_complete(
            deposit_id=deposit.top_up_id,
            funding_account=house_account(kind=CLEARING, currency=deposit.currency),
            amount_received=amount_received,
            actor=actor,
            reason=f"bank deposit {deposit.reference_code} approved",
        )
        return top_up.ledger_transaction.idempotency_key
    wallet_key = f"deposit:{deposit.reference_code}:wallet"
    if not trade_is_open(trade_id=deposit.trade_id):
        _wallet_credit(
            deposit,
            amount=amount_received,
            key=wallet_key,
            why="arrived after your order closed",
            fee=True,
        )
        return wallet_key
    plan = deposit_preview(deposit=deposit, amount_received=amount_received)
    clearing = house_account(kind=CLEARING, currency=deposit.currency)
    try:
        with transaction.atomic():
            trade = trade_settle_buy(
                trade_id=deposit.trade_id,
                funding_account=clearing,
                amount_received=plan.settle_amount,
                price=plan.rate if plan.repriced else None,
                actor=actor,
                reason=f"bank deposit {deposit.reference_code} approved"
                + (f" ({', '.join(plan.reasons)}: re-priced)" if plan.repriced else ""),
            )
        reference = f"trade:{trade.public_id}:settle"
    except TradeNotSettleable:  # closed between the check and the lock
        _wallet_credit(
            deposit,
            amount=amount_received,
            key=wallet_key,
            why="arrived after your order closed",
            fee=True,
        )
        return wallet_key
    except InsufficientLiquidity:
        _wallet_credit(
            deposit,
            amount=amount_received,
            key=wallet_key,
            why="arrived, but we could not fill your order at today's price",
            fee=False,
        )
        with contextlib.suppress(TradeNotSettleable):
            trade_fail(trade_id=deposit.trade_id, reason="reserve could not cover", actor=actor)
        _flag(
            deposit, "The reserve could not cover the re-priced trade: all credited to the wallet."
        )
        return wallet_key
    if plan.remainder:
        key = f"deposit:{deposit.reference_code}:above-maximum"
        _wallet_credit(
            deposit,
            amount=plan.remainder,
            key=key,
            why=f"was above the bank-deposit maximum of {fmt(plan.maximum, deposit.currency)}; "
            "the rest is in your wallet",
            fee=True,
        )
        _flag(
            deposit,
            f"Received {fmt(amount_received, deposit.currency)}, above the maximum "
            f"{fmt(plan.maximum, deposit.currency)}: {fmt(plan.remainder, deposit.currency)} "
            f"credited to the wallet less the fee ({key}).",
        )
    return reference


@transaction.atomic
def deposit_approve(
    *,
    deposit_id: int,
    reviewer,
    amount_received: Decimal,
    reason: str = "",
    proposal_id: int | None = None,
) -> BankDeposit:
    """Approve a pending deposit with the amount the bank statement shows.

    Settles the trade on ``amount_received`` as deposit_preview plans it
    (re-priced at the current price when approved late, for another amount
    or above the method maximum; the rest above it to the fiat wallet, and
    flagged). If the trade can no longer be settled (expired or cancelled
    meanwhile) the money is credited to the user's fiat wallet instead, less
    the bank fee (_deposit_settle). StalePrice (409, nothing written) when a
    re-pricing finds no fresh price. Raises DepositAlreadyDecided (409)
    when it was approved or rejected already, NotAReviewer (403).

    Nobody approves their own deposit (OwnMoneyRefused, 403). Above
    ``FOUR_EYES_THRESHOLDS`` the approval must confirm an open proposal of a
    different reviewer (``proposal_id``, from ``deposit_approval_propose``;
    its amount and reason are used): FourEyesRequired (409) without one,
    SamePersonRefused (403) for the proposer (payments/services/four_eyes.py)."""
    deposit = lock_pending_deposit(deposit_id, reviewer)
    proposal = None
    if proposal_id is not None:
        proposal = proposal_take_for_confirmation(
            proposal_id=proposal_id, confirmer=reviewer, deposit=deposit
        )
        amount_received, reason = proposal.amount, proposal.note
    amount_received = check_amount_received(amount_received, deposit.currency)
    if proposal is None and four_eyes_required(amount_received, deposit.currency):
        raise FourEyesRequired(
            details={
                "threshold": str(four_eyes_threshold(deposit.currency) or 0),
                "currency": deposit.currency,
            }
        )
    if proposal is None:
        proposals_close(deposit=deposit, by=reviewer)  # decided without them
    _decide(
        deposit,
        status=BankDeposit.Status.APPROVED,
        reviewer=reviewer,
        amount_received=amount_received,
        reason=reason.strip(),
    )
    ledger_reference = _deposit_settle(
        deposit, amount_received=amount_received, actor=f"staff:{reviewer.pk}"
    )
    DepositDecision.objects.create(
        deposit=deposit,
        decision=DepositDecision.Decision.APPROVED,
        actor=reviewer,
        actor_email=reviewer.email,
        reason=reason.strip(),
        expected_amount=deposit.expected_amount,
        amount_received=amount_received,
        currency=deposit.currency,
        ledger_reference=ledger_reference,
        proposal=proposal,
        proposed_by_email=proposal.proposed_by_email if proposal else "",
    )
    audit_record(
        action="deposit.approve",
        actor=reviewer,
        obj=deposit,
        subject=deposit.user,
        before={"status": BankDeposit.Status.PENDING},
        after={"status": deposit.status, "amount_received": amount_received},
        data={
            "reference_code": deposit.reference_code,
            "expected_amount": deposit.expected_amount,
            "currency": deposit.currency,
            "reason": reason.strip(),
            "ledger_reference": ledger_reference,
        },
    )
    log.info(
        "deposit.approved",
        deposit=deposit.reference_code,
        reviewer=reviewer.pk,
        amount=str(amount_received),
    )
    return deposit


@transaction.atomic
def deposit_reject(*, deposit_id: int, reviewer, reason: str) -> BankDeposit:
    """Reject a pending deposit (no money found, or not matching). ``reason``
    is required; the trade fails ("nothing was charged"). No ledger posting."""
    if not (reason or "").strip():
        raise InvalidInput(
            "Give the reason for rejecting.",
            code="reason_required",
            details={"reason": ["A reason is required."]},
        )
    deposit = lock_pending_deposit(deposit_id, reviewer)
    _decide(deposit, status=BankDeposit.Status.REJECTED, reviewer=reviewer, reason=reason.strip())
    proposals_close(deposit=deposit, by=reviewer)
    if deposit.top_up_id:
        from wallet.services import top_up_fail

        top_up_fail(
            deposit_id=deposit.top_up_id,
            reason=f"Bank deposit rejected: {reason.strip()}"[:255],
            actor=f"staff:{reviewer.pk}",
        )
    # An expired or cancelled trade has nothing left to close.
    with contextlib.suppress(TradeNotSettleable):
        if deposit.trade_id:
            trade_fail(
                trade_id=deposit.trade_id,
                reason=f"bank deposit rejected: {reason.strip()}"[:255],
                actor=f"staff:{reviewer.pk}",
            )
    DepositDecision.objects.create(
        deposit=deposit,
        decision=DepositDecision.Decision.REJECTED,
        actor=reviewer,
        actor_email=reviewer.email,
        reason=reason.strip(),
        expected_amount=deposit.expected_amount,
        currency=deposit.currency,
    )
    audit_record(
        action="deposit.reject",
        actor=reviewer,
        obj=deposit,
        subject=deposit.user,
        before={"status": BankDeposit.Status.PENDING},
        after={"status": deposit.status},
        data={
            "reference_code": deposit.reference_code,
            "expected_amount": deposit.expected_amount,
            "currency": deposit.currency,
            "reason": reason.strip(),
        },
    )
    log.info("deposit.rejected", deposit=deposit.reference_code, reviewer=reviewer.pk)
    return deposit

"""Staff money decisions: nobody decides about their own money, and above a
threshold two different people must agree (four eyes).

* A reviewer cannot approve or reject their own bank deposit, nor resolve a
  flag on their own mobile-money payment (``OwnMoneyRefused``, 403).
* Approving a deposit, or crediting a flagged payment, for an amount above
  ``FOUR_EYES_THRESHOLDS[currency]`` takes two steps: one staff member
  proposes (``deposit_approval_propose`` / ``flag_credit_propose``: nothing
  moves, an open ``DecisionProposal`` is recorded), a different one confirms
  by calling ``deposit_approve`` / ``mobile_money_flag_resolve`` with the
  proposal's id. The proposer cannot confirm (``SamePersonRefused``, 403; a
  database CHECK refuses it too). Both people are recorded on the proposal
  and on the decision's audit row, and shown in the admin.

The rule itself (thresholds, who may decide) and its errors are
``dtexchange.four_eyes``, shared with the wallet's bank withdrawals; this
module keeps payments' proposals.

Locks: the deposit (or payment) row first, then the proposal row, in both
proposing and confirming, so a proposal and its confirmation are serialized
with every other decision on the same money.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from dtexchange.errors import InvalidInput
from dtexchange.four_eyes import SamePersonRefused
from payments.errors import ProposalAlreadyOpen, ProposalNotOpen
from payments.models import BankDeposit, DecisionProposal, MobileMoneyPayment

Kind = DecisionProposal.Kind


def _create(**fields) -> DecisionProposal:
    try:
        with transaction.atomic():
            return DecisionProposal.objects.create(**fields)
    except IntegrityError as exc:  # the one-open-proposal constraint
        raise ProposalAlreadyOpen() from exc


@transaction.atomic
def deposit_approval_propose(
    *, deposit_id: int, reviewer, amount_received: Decimal, reason: str = ""
) -> DecisionProposal:
    """Propose approving a pending deposit with ``amount_received`` (above the
    threshold: below it, approve directly). Nothing moves until a different
    reviewer confirms through ``deposit_approve(..., proposal_id=...)``."""
    from payments.services.deposits import check_amount_received, lock_pending_deposit

    deposit = lock_pending_deposit(deposit_id, reviewer)
    amount = check_amount_received(amount_received, deposit.currency)
    return _create(
        kind=Kind.DEPOSIT_APPROVE,
        deposit=deposit,
        amount=amount,
        currency=deposit.currency,
        note=(reason or "").strip(),
        proposed_by=reviewer,
        proposed_by_email=reviewer.email,
    )


@transaction.atomic
def flag_credit_propose(*, payment_id: int, actor, amount: Decimal, note: str) -> DecisionProposal:
    """Propose crediting a flagged payment's ``amount`` to its user's wallet
    (above the threshold). A different resolver confirms through
    ``mobile_money_flag_resolve(..., proposal_id=...)``."""
    from payments.services.resolutions import check_credit, lock_open_flag

    payment = lock_open_flag(payment_id, actor)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(
            "Write a note saying why this should be credited.",
            code="note_required",
            details={"note": ["A note is required."]},
        )
    amount = check_credit(payment, amount)
    return _create(
        kind=Kind.FLAG_CREDIT,
        payment=payment,
        amount=amount,
        currency=payment.currency,
        note=note,
        proposed_by=actor,
        proposed_by_email=actor.email,
    )


def proposal_take_for_confirmation(
    *,
    proposal_id: int,
    confirmer,
    deposit: BankDeposit | None = None,
    payment: MobileMoneyPayment | None = None,
) -> DecisionProposal:
    """Lock an open proposal for ``deposit`` or ``payment`` (already locked
    by the caller) and mark it confirmed by ``confirmer`` (caller's
    transaction: undone if the decision then fails)."""
    from django.utils import timezone

    proposal = (
        DecisionProposal.objects.select_for_update()
        .filter(
            pk=proposal_id,
            deposit_id=deposit.pk if deposit else None,
            payment_id=payment.pk if payment else None,
        )
        .first()
    )
    if proposal is None or proposal.status != DecisionProposal.Status.OPEN:
        raise ProposalNotOpen()
    if proposal.proposed_by_id == confirmer.pk:
        raise SamePersonRefused()
    now = timezone.now()
    changed = DecisionProposal.objects.filter(
        pk=proposal.pk, status=DecisionProposal.Status.OPEN
    ).update(
        status=DecisionProposal.Status.CONFIRMED,
        confirmed_by=confirmer,
        confirmed_by_email=confirmer.email,
        decided_at=now,
    )
    if changed != 1:  # the row lock makes this unreachable; the CAS is the backstop
        raise ProposalNotOpen()
    proposal.status = DecisionProposal.Status.CONFIRMED
    proposal.confirmed_by, proposal.confirmed_by_email = confirmer, confirmer.email
    proposal.decided_at = now
    return proposal


def proposals_close(
    *, deposit: BankDeposit | None = None, payment: MobileMoneyPayment | None = None, by
) -> int:
    """Close the open proposals of a deposit or payment decided another way
    (rejected, dismissed): they can no longer be confirmed."""
    from django.utils import timezone

    filters = {"deposit": deposit} if deposit is not None else {"payment": payment}
    return DecisionProposal.objects.filter(status=DecisionProposal.Status.OPEN, **filters).update(
        status=DecisionProposal.Status.CLOSED,
        confirmed_by=None,
        closed_by_email=by.email,
        decided_at=timezone.now(),
    )

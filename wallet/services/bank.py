"""Bank withdrawals, paid by staff by hand: the mirror of the bank deposit
review. The queue is every confirmed bank withdrawal (``processing``).

* Nobody pays out or rejects their own withdrawal (403 own_money; also a
  database CHECK).
* Above ``FOUR_EYES_THRESHOLDS[currency]`` (the same setting as the deposit
  review) paying takes two people: one proposes with the bank's reference
  (``withdrawal_bank_pay_propose``, nothing moves), a different one records
  it paid with the same reference (403 four_eyes_same_person for the
  proposer; a database CHECK too).
* Rejecting (the transfer cannot be made) returns the money to the wallet.
* Every decision is in the audit trail, naming who and which reference.

Locks: the withdrawal's row, then the wallet (when money goes back), then
the posting's accounts.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from dtexchange.errors import Conflict, InvalidInput
from dtexchange.four_eyes import (
    FourEyesRequired,
    SamePersonRefused,
    four_eyes_required,
    four_eyes_threshold,
    refuse_own_money,
)
from ledger.models import AccountKind
from wallet.models import Withdrawal
from wallet.services.common import (
    money_pay_out,
    money_return,
    transition,
    withdrawal_email,
    withdrawal_lock,
)

Status = Withdrawal.Status


class NotInQueue(Conflict):
    code = "withdrawal_not_in_queue"
    message = "This withdrawal is not waiting to be paid by bank any more."


def _reference(value: str) -> str:
    value = " ".join(str(value or "").split())
    if not value or len(value) > 64:
        raise InvalidInput(
            "Enter the bank's reference of the transfer (1 to 64 characters).",
            details={"bank_reference": ["Required, at most 64 characters."]},
        )
    return value


def _queued(*, withdrawal_pk: int, staff) -> Withdrawal:
    withdrawal = withdrawal_lock(pk=withdrawal_pk)
    if withdrawal.method != Withdrawal.Method.BANK or withdrawal.status != Status.PROCESSING:
        raise NotInQueue(details={"status": withdrawal.status})
    refuse_own_money(owner_id=withdrawal.user_id, staff=staff)
    return withdrawal


def _figures(withdrawal: Withdrawal) -> dict:
    return {
        "currency": withdrawal.currency,
        "amount": withdrawal.amount,
        "net_amount": withdrawal.net_amount,
        "fee_amount": withdrawal.fee_amount,
        "status": withdrawal.status,
    }


@transaction.atomic
def withdrawal_bank_pay_propose(*, staff, withdrawal_pk: int, bank_reference: str) -> Withdrawal:
    """First of two people: "I paid it (reference …)"; nothing moves yet."""
    reference = _reference(bank_reference)
    withdrawal = _queued(withdrawal_pk=withdrawal_pk, staff=staff)
    if withdrawal.proposed_by_id is not None:
        raise Conflict(
            "A proposal is already waiting for a second person.",
            code="proposal_already_open",
            details={"proposed_by": withdrawal.proposed_by.email},
        )
    now = timezone.now()
    Withdrawal.objects.filter(pk=withdrawal.pk).update(
        proposed_by=staff, proposed_at=now, proposed_reference=reference, updated_at=now
    )
    withdrawal.proposed_by, withdrawal.proposed_at = staff, now
    withdrawal.proposed_reference = reference
    audit_record(
        action="withdrawal.bank_pay_proposed",
        actor=staff,
        obj=withdrawal,
        subject=withdrawal.user,
        after=_figures(withdrawal),
        data={"bank_reference": reference},
    )
    return withdrawal


@transaction.atomic
def withdrawal_bank_pay(*, staff, withdrawal_pk: int, bank_reference: str) -> Withdrawal:
    """Record the transfer as made: the held amount is paid out (net through
    bank clearing, fee to fee revenue) and the withdrawal is ``completed``.
    Above the threshold this confirms another person's proposal, with the
    same reference (409 four_eyes_required without one)."""
    reference = _reference(bank_reference)
    withdrawal = _queued(withdrawal_pk=withdrawal_pk, staff=staff)
    proposer = withdrawal.proposed_by
    if four_eyes_required(withdrawal.amount, withdrawal.currency):
        if proposer is None:
            raise FourEyesRequired(
                details={"threshold": str(four_eyes_threshold(withdrawal.currency))}
            )
        if proposer.pk == staff.pk:
            raise SamePersonRefused()
        if withdrawal.proposed_reference != reference:
            raise InvalidInput(
                "The reference differs from the proposed one.",
                code="invalid_input",
                details={"bank_reference": [f"Proposed: {withdrawal.proposed_reference}"]},
            )
    money_pay_out(withdrawal, clearing_kind=AccountKind.BANK_CLEARING, actor=f"staff:{staff.pk}")
    transition(
        withdrawal, to=Status.COMPLETED, fields={"bank_reference": reference, "decided_by": staff}
    )
    audit_record(
        action="withdrawal.bank_paid",
        actor=staff,
        obj=withdrawal,
        subject=withdrawal.user,
        after=_figures(withdrawal),
        data={
            "bank_reference": reference,
            "proposed_by": proposer.email if proposer else "",
        },
    )
    withdrawal_email(withdrawal, template="withdrawal_completed")
    return withdrawal


@transaction.atomic
def withdrawal_bank_reject(*, staff, withdrawal_pk: int, reason: str) -> Withdrawal:
    """The transfer cannot be made (wrong account, ...): the amount goes back
    to the user's wallet and the withdrawal is ``failed``."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise InvalidInput("Say why.", details={"reason": ["Required."]})
    withdrawal = _queued(withdrawal_pk=withdrawal_pk, staff=staff)
    transition(
        withdrawal,
        to=Status.FAILED,
        fields={"failure_reason": reason[:255], "decided_by": staff},
    )
    money_return(withdrawal, why="rejected by staff", actor=f"staff:{staff.pk}")
    audit_record(
        action="withdrawal.bank_rejected",
        actor=staff,
        obj=withdrawal,
        subject=withdrawal.user,
        after=_figures(withdrawal),
        data={"reason": reason},
    )
    withdrawal_email(withdrawal, template="withdrawal_failed")
    return withdrawal

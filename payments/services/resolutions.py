"""Staff resolve flagged mobile-money payments (amount or currency mismatch,
an outcome contradicting an earlier one, a reference that does not match, no
outcome after polling gave up, a trade that could not take the outcome).

Each resolution is one service call: under the payment's row lock, a
compare-and-set of ``resolved_at`` (so two people resolving at once give
exactly one resolution), at most one ledger posting (``fiat_wallet_credit``
from the mobile-money clearing account, on the same idempotency key as the
automatic late-payment credit) and one append-only audit row.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.roles import ADMIN, DEPOSIT_REVIEWER, user_has_role
from audit.services import audit_record
from dtexchange.errors import InvalidInput, NotFound
from dtexchange.four_eyes import (
    FourEyesRequired,
    four_eyes_required,
    four_eyes_threshold,
    refuse_own_money,
)
from ledger.money import fmt, has_valid_precision
from ledger.services import house_account
from payments.errors import (
    CreditNotAllowed,
    FlagAlreadyResolved,
    NotAResolver,
    PaymentNotFlagged,
)
from payments.models import MobileMoneyPayment, PaymentResolution
from payments.selectors import flagged_payment_credit_refusal, momo_wallet_credit_key
from payments.services.four_eyes import proposal_take_for_confirmation, proposals_close
from trading.services import fiat_wallet_credit, trade_fail
from trading.services.trades import TradeNotSettleable

log = structlog.get_logger(__name__)
Outcome = PaymentResolution.Outcome
CLEARING = "mobile_money_clearing"


def can_resolve(user) -> bool:
    return user_has_role(user, DEPOSIT_REVIEWER) or user_has_role(user, ADMIN)


def _check_amount(amount, currency: str) -> Decimal:
    _low, high = settings.PAYMENT_LIMITS["mobile_money"].get(currency, (None, None))
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or not has_valid_precision(amount, currency)
        or (high is not None and amount > high)
    ):
        cap = f", at most {fmt(high, currency)} (one mobile-money payment)" if high else ""
        raise InvalidInput(
            f"Enter the amount received, a positive {currency} amount in whole units{cap}.",
            code="invalid_amount",
            details={"amount": [f"A positive {currency} amount{cap}."]},
        )
    return amount


def lock_open_flag(payment_id: int, actor) -> MobileMoneyPayment:
    """The flagged, unresolved payment, row-locked, that ``actor`` may resolve:
    a resolver, and not the payment's owner (nobody decides about their own
    money)."""
    if not can_resolve(actor):
        raise NotAResolver()
    payment = (
        MobileMoneyPayment.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=payment_id)
        .first()
    )
    if payment is None:
        raise NotFound("No such payment.", code="payment_not_found")
    if not payment.flagged:
        raise PaymentNotFlagged()
    if payment.resolved_at is not None:
        last = payment.resolutions.order_by("-pk").first()
        raise FlagAlreadyResolved(
            details={
                "resolved_at": payment.resolved_at.isoformat(),
                "outcome": last.outcome if last else "",
                "by": last.actor_email if last else "",
            }
        )
    refuse_own_money(owner_id=payment.user_id, staff=actor)
    return payment


def check_credit(payment: MobileMoneyPayment, amount) -> Decimal:
    """The amount a flagged payment may be credited, or CreditNotAllowed /
    InvalidInput."""
    refusal = flagged_payment_credit_refusal(payment)
    if refusal:
        raise CreditNotAllowed(refusal)
    return _check_amount(amount, payment.currency)


@transaction.atomic
def mobile_money_flag_resolve(
    *,
    payment_id: int,
    actor,
    outcome: str,
    note: str = "",
    amount: Decimal | None = None,
    proposal_id: int | None = None,
) -> PaymentResolution:
    """Resolve an open flag on a payment, once.

    * ``credited``: ``amount`` (what Relworx's records show arrived) goes to
      the user's fiat wallet from the mobile-money clearing account, and the
      user is told (live and by the late-payment email, through the outbox).
      Only for a collection whose money has not reached the user yet
      (``flagged_payment_credit_refusal``). A payment still pending becomes
      succeeded with that amount received; its trade, if still open, fails
      (the money is in the wallet instead: nothing more is charged).
    * ``dismissed``: handled outside (e.g. with Relworx); nothing moves.

    ``note`` is required. Raises NotAResolver (403), InvalidInput (400),
    NotFound (404), PaymentNotFlagged / FlagAlreadyResolved /
    CreditNotAllowed (409); nothing is written when it raises. A new flag on
    the payment later (services.mobile_money) reopens it; a second credit is
    still impossible (one credited resolution per payment, one ledger key).

    Nobody resolves a flag on their own payment (OwnMoneyRefused, 403).
    A credit above ``FOUR_EYES_THRESHOLDS`` must confirm an open proposal of
    a different resolver (``proposal_id``, from ``flag_credit_propose``; its
    amount and note are used): FourEyesRequired (409) without one,
    SamePersonRefused (403) for the proposer.
    """
    if proposal_id is not None:
        return _confirm_credit(payment_id=payment_id, actor=actor, proposal_id=proposal_id)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(
            "Write a note saying how this was resolved.",
            code="note_required",
            details={"note": ["A note is required."]},
        )
    if outcome not in Outcome.values:
        raise InvalidInput(
            "Choose an outcome.",
            code="invalid_outcome",
            details={"outcome": [f"One of: {', '.join(Outcome.values)}."]},
        )
    payment = lock_open_flag(payment_id, actor)
    if outcome == Outcome.CREDITED:
        credited = check_credit(payment, amount)
        if four_eyes_required(credited, payment.currency):
            raise FourEyesRequired(
                details={
                    "threshold": str(four_eyes_threshold(payment.currency) or 0),
                    "currency": payment.currency,
                }
            )
    return _resolve(payment=payment, actor=actor, outcome=outcome, note=note, amount=amount)


def _confirm_credit(*, payment_id: int, actor, proposal_id: int) -> PaymentResolution:
    payment = lock_open_flag(payment_id, actor)
    proposal = proposal_take_for_confirmation(
        proposal_id=proposal_id, confirmer=actor, payment=payment
    )
    check_credit(payment, proposal.amount)
    return _resolve(
        payment=payment,
        actor=actor,
        outcome=Outcome.CREDITED,
        note=proposal.note,
        amount=proposal.amount,
        proposal=proposal,
    )


def _book_reported_charge(payment: MobileMoneyPayment) -> None:
    """Relworx's charge on a payment it reported decided or successful, on the
    same idempotency key as when the report came (services.mobile_money):
    booked once, here only if nothing booked it then (e.g. a flag raised
    before that report booked charges). A charge booked for another figure
    is left as booked (the flag's note is where a person says why)."""
    from ledger.errors import IdempotencyKeyReused
    from payments.services.effects import post_relworx_charge

    reported = payment.status != MobileMoneyPayment.Status.PENDING or (
        payment.amount_received is not None
    )
    if payment.charge is None or payment.charge <= 0 or not reported:
        return
    with contextlib.suppress(IdempotencyKeyReused):
        post_relworx_charge(payment)


def _resolve(*, payment, actor, outcome, note, amount, proposal=None) -> PaymentResolution:
    flag_reason, status_before = payment.flag_reason, payment.status
    credited, ledger_reference = None, ""
    now = timezone.now()
    if proposal is None:
        proposals_close(payment=payment, by=actor)  # decided without them
    if outcome == Outcome.CREDITED:
        credited = check_credit(payment, amount)
        ledger_reference = momo_wallet_credit_key(payment)
        fiat_wallet_credit(
            user=payment.user,
            currency=payment.currency,
            amount=credited,
            funding_account=house_account(kind=CLEARING, currency=payment.currency),
            idempotency_key=ledger_reference,
            reason=f"Our team checked your mobile money payment {payment.reference}.",
            payment_method="mobile_money",
            payment_reference=payment.reference,
        )
        fields = {"outcome": "wallet_credited", "amount_received": credited}
        if payment.status == MobileMoneyPayment.Status.PENDING:
            fields.update(status=MobileMoneyPayment.Status.SUCCEEDED, completed_at=now)
        MobileMoneyPayment.objects.filter(pk=payment.pk).update(**fields)
        if payment.trade_id:
            # Already failed: a no-op; expired, settled, cancelled: left as it is.
            with contextlib.suppress(TradeNotSettleable):
                trade_fail(
                    trade_id=payment.trade_id,
                    reason=f"mobile money {payment.reference}: credited to the wallet by staff",
                    actor=f"staff:{actor.pk}",
                )
    _book_reported_charge(payment)
    changed = MobileMoneyPayment.objects.filter(pk=payment.pk, resolved_at__isnull=True).update(
        resolved_at=now
    )
    if changed != 1:  # the row lock makes this unreachable; the CAS is the backstop
        raise FlagAlreadyResolved()
    resolution = PaymentResolution.objects.create(
        payment=payment,
        outcome=outcome,
        actor=actor,
        actor_email=actor.email,
        note=note,
        flag_reason=flag_reason,
        payment_status=status_before,
        amount_credited=credited,
        currency=payment.currency,
        ledger_reference=ledger_reference,
        proposal=proposal,
        proposed_by_email=proposal.proposed_by_email if proposal else "",
    )
    payment.refresh_from_db(fields=["status", "resolved_at", "amount_received"])
    audit_record(
        action="payment.flag_resolve",
        actor=actor,
        obj=payment,
        subject=payment.user,
        before={"status": status_before, "flag_reason": flag_reason, "resolved_at": None},
        after={
            "status": payment.status,
            "resolved_at": payment.resolved_at,
            "outcome": outcome,
            "amount_credited": credited,
        },
        data={
            "reference": payment.reference,
            "currency": payment.currency,
            "note": note,
            "ledger_reference": ledger_reference,
            "resolution_id": resolution.pk,
        },
    )
    log.info(
        "momo.flag_resolved",
        reference=payment.reference,
        outcome=outcome,
        actor=actor.pk,
        amount=str(credited) if credited is not None else None,
    )
    return resolution

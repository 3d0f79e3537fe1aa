"""Reads of the wallet's withdrawals and payout numbers (never write)."""

from __future__ import annotations

import uuid

from dtexchange.errors import NotFound
from ledger.money import quantize
from wallet.errors import PayoutNumberNotFound, WithdrawalNotFound
from wallet.models import Deposit, PayoutNumber, TierRequest, Withdrawal


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def withdrawal_as_dict(withdrawal: Withdrawal) -> dict:
    """The API's view of a withdrawal (JSON-safe, decimal strings)."""
    code = withdrawal.currency
    return {
        "id": str(withdrawal.public_id),
        "status": withdrawal.status,
        "status_label": withdrawal.get_status_display(),
        "currency": code,
        "amount": str(quantize(withdrawal.amount, code)),
        "fee_amount": str(quantize(withdrawal.fee_amount, code)),
        "net_amount": str(quantize(withdrawal.net_amount, code)),
        "method": withdrawal.method,
        "destination": dict(withdrawal.destination),
        "second_factor": withdrawal.second_factor,
        "confirm_by": _iso(withdrawal.confirm_by),
        "failure_reason": withdrawal.failure_reason,
        "created_at": _iso(withdrawal.created_at),
        "updated_at": _iso(withdrawal.updated_at),
        "completed_at": _iso(withdrawal.completed_at),
    }


def withdrawal_get_for_user(*, user, withdrawal_id) -> Withdrawal:
    """The user's withdrawal by its public id; someone else's is a 404."""
    withdrawal = Withdrawal.objects.filter(public_id=withdrawal_id, user=user).first()
    if withdrawal is None:
        raise WithdrawalNotFound(details={"id": str(withdrawal_id)})
    return withdrawal


def withdrawal_list_for_user(*, user, limit: int = 50) -> list[Withdrawal]:
    return list(Withdrawal.objects.filter(user=user).order_by("-created_at", "-id")[:limit])


def payout_number_as_dict(number: PayoutNumber) -> dict:
    return {
        "id": str(number.public_id),
        "phone_number": number.phone_masked,
        "provider": number.provider,
        # None: Relworx did not name the holder (only some networks can be
        # validated); the screens say so.
        "holder_name": number.holder_name or None,
        "status": number.status,
        "second_factor": number.second_factor,
        "created_at": _iso(number.created_at),
        "confirmed_at": _iso(number.confirmed_at),
    }


def payout_number_list_for_user(*, user) -> list[PayoutNumber]:
    return list(
        PayoutNumber.objects.filter(user=user)
        .exclude(status=PayoutNumber.Status.DELETED)
        .order_by("-created_at", "-id")
    )


def payout_number_get_for_user(*, user, number_id) -> PayoutNumber:
    number = (
        PayoutNumber.objects.filter(public_id=number_id, user=user)
        .exclude(status=PayoutNumber.Status.DELETED)
        .first()
    )
    if number is None:
        raise PayoutNumberNotFound(details={"id": str(number_id)})
    return number


def payout_number_phone_for_user(*, user, number_id) -> str | None:
    """The number (E.164, unsealed) of one of the user's confirmed payout
    numbers, for a payout the user picked by id; None for anyone else's, a
    pending or deleted one, or a malformed id."""
    from wallet import payouts

    try:
        number = payout_number_get_for_user(user=user, number_id=uuid.UUID(str(number_id)))
    except (ValueError, PayoutNumberNotFound):
        return None
    if number.status != PayoutNumber.Status.CONFIRMED:
        return None
    return payouts.sealer().unseal(number.msisdn_sealed)


def payout_number_live(*, user, lookup_hash: str) -> PayoutNumber | None:
    """The user's number with this lookup hash, unless deleted."""
    return (
        PayoutNumber.objects.filter(user=user, msisdn_hash=lookup_hash)
        .exclude(status=PayoutNumber.Status.DELETED)
        .first()
    )


def payout_number_confirmed(*, user, lookup_hash: str) -> bool:
    """Whether money may be paid out to this number for the user: only a
    confirmed (not pending, not deleted) payout number of theirs."""
    return PayoutNumber.objects.filter(
        user=user, msisdn_hash=lookup_hash, status=PayoutNumber.Status.CONFIRMED
    ).exists()


def _amount(value, currency: str) -> str:
    return format(quantize(value, currency), "f")


def deposit_as_dict(deposit: Deposit) -> dict:
    """A top-up as the API, the live updates and the site show it (amounts
    at the currency's precision)."""
    cur = deposit.currency
    return {
        "id": str(deposit.public_id),
        "status": deposit.status,
        "method": deposit.method,
        "currency": deposit.currency,
        "amount": _amount(deposit.amount, cur),
        "fee_rate": format(deposit.fee_rate.normalize(), "f"),
        "fee_amount": _amount(deposit.fee_amount, cur),
        "net_amount": _amount(deposit.net_amount, cur),
        "amount_received": (
            _amount(deposit.amount_received, cur) if deposit.amount_received is not None else None
        ),
        "payment_details": dict(deposit.payment_details or {}),
        "instructions": dict(deposit.instructions or {}),
        "reference_code": deposit.reference_code or None,
        "failure_reason": deposit.failure_reason,
        "created_at": deposit.created_at.isoformat(),
        "updated_at": deposit.updated_at.isoformat(),
        "completed_at": deposit.completed_at.isoformat() if deposit.completed_at else None,
    }


def deposit_get_for_user(*, user, deposit_id: str) -> Deposit:
    """One of the user's top-ups by its public id; anyone else's, or a
    malformed id, is 404."""
    try:
        public_id = uuid.UUID(str(deposit_id))
    except ValueError:
        raise NotFound("No such top-up.") from None
    deposit = Deposit.objects.filter(user_id=user.pk, public_id=public_id).first()
    if deposit is None:
        raise NotFound("No such top-up.")
    return deposit


def deposit_list_for_user(*, user, limit: int = 50, status: str | None = None) -> list[Deposit]:
    rows = Deposit.objects.filter(user_id=user.pk)
    if status:
        rows = rows.filter(status=status)
    return list(rows.order_by("-created_at", "-pk")[:limit])


def deposit_is_open(*, deposit_id: int) -> bool:
    """Still waiting for its money (pending or processing)."""
    return Deposit.objects.filter(pk=deposit_id, status__in=("pending", "processing")).exists()


def tier_request_pending(*, user) -> TierRequest | None:
    return TierRequest.objects.filter(user_id=user.pk, status=TierRequest.Status.PENDING).first()


def tier_request_queue():
    """Pending tier requests, oldest first (the staff queue)."""
    return TierRequest.objects.filter(status=TierRequest.Status.PENDING).select_related("user")

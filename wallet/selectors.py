"""wallet's read-only queries (top-ups, tiers). The statement has its own
module (wallet/statement.py)."""

from __future__ import annotations

import uuid

from dtexchange.errors import NotFound
from ledger.money import quantize
from wallet.models import Deposit, TierRequest


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

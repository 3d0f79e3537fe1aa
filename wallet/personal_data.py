"""The wallet's part of a person's data export and erasure: withdrawals,
payout numbers, top-ups, the tier and tier requests. On erasure the phone
numbers, bank details and masked numbers shown on top-ups go; withdrawals and
top-ups stay as records of money. An open withdrawal blocks erasure; open
top-ups block it through their payments (payments' own section)."""

import json

from wallet import payouts
from wallet.limits import user_tier
from wallet.models import Deposit, PayoutNumber, TierRequest, Withdrawal

OPEN = (Withdrawal.Status.AWAITING_CONFIRMATION, Withdrawal.Status.PROCESSING)


def export(user) -> dict:
    return {
        "tier": user_tier(user=user),
        "withdrawals": _withdrawals_export(user),
        "payout_numbers": _payout_numbers_export(user),
        "top_ups": _top_ups_export(user),
        "tier_requests": [
            {"status": r.status, "note": r.note, "created_at": r.created_at}
            for r in TierRequest.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def _withdrawals_export(user) -> list[dict]:
    sealer = payouts.sealer()
    return [
        {
            "id": str(w.public_id),
            "method": w.method,
            "destination": json.loads(sealer.unseal(w.destination_sealed))
            if w.destination_sealed
            else w.destination,
            "amount": w.amount,
            "fee_amount": w.fee_amount,
            "net_amount": w.net_amount,
            "currency": w.currency,
            "status": w.status,
            "created_at": w.created_at,
            "completed_at": w.completed_at,
        }
        for w in Withdrawal.objects.filter(user=user).order_by("created_at", "pk")
    ]


def _payout_numbers_export(user) -> list[dict]:
    sealer = payouts.sealer()
    return [
        {
            "phone_number": sealer.unseal(n.msisdn_sealed) if n.msisdn_sealed else "",
            "holder_name": n.holder_name,
            "status": n.status,
            "created_at": n.created_at,
        }
        for n in PayoutNumber.objects.filter(user=user).order_by("created_at", "pk")
    ]


def _top_ups_export(user) -> list[dict]:
    return [
        {
            "id": str(d.public_id),
            "method": d.method,
            "currency": d.currency,
            "amount": d.amount,
            "fee_amount": d.fee_amount,
            "net_amount": d.net_amount,
            "amount_received": d.amount_received,
            "status": d.status,
            "reference_code": d.reference_code,
            "payment_details": d.payment_details,
            "created_at": d.created_at,
            "completed_at": d.completed_at,
        }
        for d in Deposit.objects.filter(user=user).order_by("created_at", "pk")
    ]


def blockers(user, give_up_small_balances: bool) -> list[dict]:
    count = Withdrawal.objects.filter(user=user, status__in=OPEN).count()
    if not count:
        return []
    return [{"code": "withdrawal_in_flight", "message": f"{count} withdrawal(s) are not finished"}]


def erase(user, give_up_small_balances: bool) -> dict | None:
    removed = {
        "payout_numbers_removed": PayoutNumber.objects.filter(user=user).update(
            msisdn_sealed="", msisdn_hash="", holder_name="", status=PayoutNumber.Status.DELETED
        ),
        "withdrawal_details_removed": Withdrawal.objects.filter(user=user).update(
            destination_sealed=""
        ),
        "top_up_details_removed": Deposit.objects.filter(user=user)
        .exclude(payment_details={})
        .update(payment_details={}, response_body=None),
        "tier_notes_removed": TierRequest.objects.filter(user=user)
        .exclude(note="")
        .update(note=""),
    }
    return {name: count for name, count in removed.items() if count} or None

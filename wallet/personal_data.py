"""The wallet's part of a person's data export and erasure: withdrawals and
payout numbers. On erasure the phone numbers and bank details go; the
withdrawals stay as records (masked). An open withdrawal blocks erasure."""

import json

from wallet import payouts
from wallet.models import PayoutNumber, Withdrawal

OPEN = (Withdrawal.Status.AWAITING_CONFIRMATION, Withdrawal.Status.PROCESSING)


def export(user) -> dict:
    sealer = payouts.sealer()
    return {
        "withdrawals": [
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
        ],
        "payout_numbers": [
            {
                "phone_number": sealer.unseal(n.msisdn_sealed) if n.msisdn_sealed else "",
                "holder_name": n.holder_name,
                "status": n.status,
                "created_at": n.created_at,
            }
            for n in PayoutNumber.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def blockers(user, give_up_small_balances: bool) -> list[dict]:
    count = Withdrawal.objects.filter(user=user, status__in=OPEN).count()
    if not count:
        return []
    return [{"code": "withdrawal_in_flight", "message": f"{count} withdrawal(s) are not finished"}]


def erase(user, give_up_small_balances: bool) -> dict | None:
    numbers = PayoutNumber.objects.filter(user=user).update(
        msisdn_sealed="", msisdn_hash="", holder_name="", status=PayoutNumber.Status.DELETED
    )
    withdrawals = Withdrawal.objects.filter(user=user).update(destination_sealed="")
    if not (numbers or withdrawals):
        return None
    return {"payout_numbers_removed": numbers, "withdrawal_details_removed": withdrawals}

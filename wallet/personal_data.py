"""wallet's part of a person's data export and erasure: top-ups, the tier
and tier requests. On erasure the masked phone numbers shown on top-ups go;
the top-ups stay as records of money. Open top-ups block erasure through
their payments (payments' own section)."""

from wallet.limits import user_tier
from wallet.models import Deposit, TierRequest


def export(user) -> dict:
    return {
        "tier": user_tier(user=user),
        "top_ups": [
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
        ],
        "tier_requests": [
            {"status": r.status, "note": r.note, "created_at": r.created_at}
            for r in TierRequest.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def erase(user, give_up_small_balances: bool) -> dict | None:
    changed = (
        Deposit.objects.filter(user=user)
        .exclude(payment_details={})
        .update(payment_details={}, response_body=None)
    )
    notes = TierRequest.objects.filter(user=user).exclude(note="").update(note="")
    return (
        {"top_up_details_removed": changed, "tier_notes_removed": notes}
        if changed or notes
        else None
    )

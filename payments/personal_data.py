"""Payments' part of a person's data export and erasure: mobile-money
payments (with the phone numbers, decrypted for their owner) and bank
deposits. On erasure the phone numbers go; the payments stay as records."""

from payments.models import BankDeposit, MobileMoneyPayment
from payments.services.mobile_money import redact


def export(user) -> dict:
    return {
        "mobile_money": [
            {
                "reference": p.reference,
                "direction": p.direction,
                "phone_number": p.msisdn,
                "provider": p.provider,
                "amount": p.amount,
                "currency": p.currency,
                "status": p.status,
                "created_at": p.created_at,
                "completed_at": p.completed_at,
            }
            for p in MobileMoneyPayment.objects.filter(user=user).order_by("created_at", "pk")
        ],
        "bank_deposits": [
            {
                "reference_code": d.reference_code,
                "expected_amount": d.expected_amount,
                "amount_received": d.amount_received,
                "currency": d.currency,
                "status": d.status,
                "created_at": d.created_at,
            }
            for d in BankDeposit.objects.filter(user=user).order_by("created_at", "pk")
        ],
    }


def blockers(user, give_up_small_balances: bool) -> list[dict]:
    out = []
    pending = MobileMoneyPayment.objects.filter(
        user=user, status=MobileMoneyPayment.Status.PENDING
    ).count()
    flagged = MobileMoneyPayment.objects.filter(
        user=user, flagged=True, resolved_at__isnull=True
    ).count()
    deposits = BankDeposit.objects.filter(user=user, status=BankDeposit.Status.PENDING).count()
    if pending:
        out.append({"code": "payment_in_flight", "message": f"{pending} payment(s) are pending"})
    if flagged:
        out.append(
            {"code": "payment_under_review", "message": f"{flagged} payment(s) are under review"}
        )
    if deposits:
        out.append(
            {"code": "deposit_in_flight", "message": f"{deposits} bank deposit(s) are pending"}
        )
    return out


def erase(user, give_up_small_balances: bool) -> dict | None:
    payments = list(MobileMoneyPayment.objects.filter(user=user).select_for_update())
    for payment in payments:
        payment.msisdn = ""
        payment.msisdn_hash = ""
        raw = redact(payment.last_status_raw)
        raw.pop("msisdn", None)
        payment.last_status_raw = raw
        payment.save(update_fields=["msisdn", "msisdn_hash", "last_status_raw"])
    return {"phone_numbers_removed": len(payments)} if payments else None

"""Vouchers' part of a person's data export: the vouchers they redeemed."""

from vouchers.models import Voucher


def export(user) -> list[dict]:
    return [
        {
            "code_suffix": v.suffix,
            "amount": v.amount,
            "currency": v.currency,
            "redeemed_at": v.redeemed_at,
        }
        for v in Voucher.objects.filter(redeemed_by=user).order_by("redeemed_at", "pk")
    ]

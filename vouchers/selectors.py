"""Voucher reads. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from ledger.money import quantize
from vouchers import codes
from vouchers.errors import VoucherCurrencyMismatch, VoucherUnavailable
from vouchers.models import Voucher
from vouchers.rules import code_body_clean, ensure_payable, voucher_currency_clean


@dataclass(frozen=True)
class VoucherCheck:
    usable: bool
    # "ok", "unavailable" (unknown, redeemed, void or expired: deliberately one
    # answer) or "currency_mismatch" (an otherwise usable voucher).
    reason: str
    currency: str | None = None
    amount: Decimal | None = None
    expires_at: datetime | None = None
    suffix: str | None = None


def voucher_check(*, code: str, currency: str) -> VoucherCheck:
    """Can ``code`` pay for a ``currency`` buy right now?

    Unknown, redeemed, void and expired codes get the same answer — a guesser
    cannot tell a code that never existed from one that was used, and an
    expired voucher is not distinguished either (the safer option: its holder
    can ask support, a guesser learns nothing). Only a usable voucher in the
    other currency says so, with its currency: its holder could learn that by
    redeeming it anyway. Raises InvalidInput for a malformed code or currency.
    """
    cur = voucher_currency_clean(currency)
    body = code_body_clean(code)
    voucher = Voucher.objects.filter(code_hash=codes.code_hash(body)).first()
    try:
        ensure_payable(voucher, currency=cur, amount=None, now=timezone.now())
    except VoucherUnavailable:
        return VoucherCheck(usable=False, reason="unavailable")
    except VoucherCurrencyMismatch:
        return VoucherCheck(usable=False, reason="currency_mismatch", currency=voucher.currency)
    return VoucherCheck(
        usable=True,
        reason="ok",
        currency=voucher.currency,
        amount=quantize(voucher.amount, voucher.currency),
        expires_at=voucher.expires_at,
        suffix=voucher.suffix,
    )


def voucher_for_payment(*, code: object, currency: str, amount: Decimal) -> Voucher:
    """The voucher a buy of ``amount`` ``currency`` would redeem (no lock: the
    redemption re-checks under the row lock). Raises InvalidInput
    (``invalid_voucher_code``, ``amount_mismatch``), VoucherUnavailable or
    VoucherCurrencyMismatch; never says more about an unusable code."""
    cur = voucher_currency_clean(currency)
    body = code_body_clean(code, field="payment_details.voucher_code")
    voucher = Voucher.objects.filter(code_hash=codes.code_hash(body)).first()
    return ensure_payable(voucher, currency=cur, amount=amount, now=timezone.now())

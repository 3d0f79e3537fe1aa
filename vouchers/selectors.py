"""Voucher reads. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from dtexchange.errors import InvalidInput
from trading.money import quantize
from vouchers import codes
from vouchers.models import Voucher
from vouchers.services import voucher_currency_clean


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
    try:
        body = codes.normalise(code)
    except codes.MalformedCode as exc:
        raise InvalidInput(
            str(exc), code="invalid_voucher_code", details={"voucher_code": [str(exc)]}
        ) from None
    voucher = Voucher.objects.filter(code_hash=codes.code_hash(body)).first()
    if voucher is None or not voucher.is_usable(now=timezone.now()):
        return VoucherCheck(usable=False, reason="unavailable")
    if voucher.currency != cur:
        return VoucherCheck(usable=False, reason="currency_mismatch", currency=voucher.currency)
    return VoucherCheck(
        usable=True,
        reason="ok",
        currency=voucher.currency,
        amount=quantize(voucher.amount, voucher.currency),
        expires_at=voucher.expires_at,
        suffix=voucher.suffix,
    )


def voucher_list_for_batch(*, batch_id: int):
    return Voucher.objects.filter(batch_id=batch_id).order_by("pk")

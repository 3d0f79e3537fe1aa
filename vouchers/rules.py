"""Checks shared by the validate answer, the buy's detail check and the
redemption under lock — one definition of "this voucher can pay for that"."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dtexchange.errors import InvalidInput
from ledger.money import fmt, quantize
from vouchers import codes
from vouchers.errors import VoucherCurrencyMismatch, VoucherUnavailable
from vouchers.models import VOUCHER_CURRENCIES, Voucher


def voucher_currency_clean(currency: object) -> str:
    code = str(currency or "").strip().upper()
    if code not in VOUCHER_CURRENCIES:
        message = f"Vouchers are in {' or '.join(VOUCHER_CURRENCIES)}."
        raise InvalidInput(f"currency: {message}", details={"currency": [message]})
    return code


def code_body_clean(code: object, *, field: str = "voucher_code") -> str:
    try:
        return codes.normalise(code)
    except codes.MalformedCode as exc:
        raise InvalidInput(
            str(exc), code="invalid_voucher_code", details={field: [str(exc)]}
        ) from None


def ensure_payable(
    voucher: Voucher | None, *, currency: str, amount: Decimal | None, now: datetime
) -> Voucher:
    """Raise unless ``voucher`` can pay ``amount`` (None: any) in ``currency``.

    Order matters: an unusable voucher (absent, redeemed, void, expired) gets
    the one VoucherUnavailable before anything about it is said; only then
    the currency and the face value, which its holder may learn.
    """
    if voucher is None or not voucher.is_usable(now=now):
        raise VoucherUnavailable()
    if voucher.currency != currency:
        raise VoucherCurrencyMismatch(
            f"This voucher is in {voucher.currency}; pay a {voucher.currency} amount with it.",
            details={"voucher_currency": voucher.currency},
        )
    if amount is not None and amount != voucher.amount:
        face = quantize(voucher.amount, voucher.currency)
        raise InvalidInput(
            f"This voucher is worth {fmt(face, voucher.currency)}: "
            f"the amount must be exactly {face}.",
            code="amount_mismatch",
            details={"amount": [f"Must be {face}."], "voucher_amount": str(face)},
        )
    return voucher

from rest_framework import status

from dtexchange.errors import DomainError


class VoucherUnavailable(DomainError):
    """One answer for unknown, redeemed, void and expired codes, so that a
    guesser learns nothing about which codes exist or existed."""

    code = "voucher_unavailable"
    message = "This voucher code cannot be used. Check the code, or contact support."
    status = status.HTTP_400_BAD_REQUEST


class VoucherCurrencyMismatch(DomainError):
    """Only ever raised for a usable voucher: its holder could learn the
    currency by redeeming it anyway, and it saves them a support call."""

    code = "voucher_currency_mismatch"
    status = status.HTTP_400_BAD_REQUEST


class VoucherStateConflict(DomainError):
    """Staff actions (void) on a voucher that is no longer active."""

    code = "voucher_not_active"
    status = status.HTTP_409_CONFLICT

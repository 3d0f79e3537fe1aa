"""Throttles for voucher validation: per user and per client IP,
on the project's one atomic limiter (dtexchange.throttling)."""

from dtexchange.throttling import IPRateThrottle, UserRateThrottle


class VoucherValidateUserThrottle(UserRateThrottle):
    scope = "voucher_validate"


class VoucherValidateIPThrottle(IPRateThrottle):
    scope = "voucher_validate"

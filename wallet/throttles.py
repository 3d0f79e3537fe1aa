from dtexchange.throttling import UserRateThrottle


class WithdrawalThrottle(UserRateThrottle):
    """Withdrawal and payout-number writes, per signed-in user."""

    scope = "withdrawals"


class ConfirmationCodeThrottle(UserRateThrottle):
    """Tries of confirmation codes, per signed-in user (the codes themselves
    count wrong tries too)."""

    scope = "otp"

"""The wallet's domain errors."""

from rest_framework import status

from dtexchange.errors import Conflict, DomainError, InvalidInput, NotFound

PAYOUT_NUMBERS_ROUTE = "/api/wallet/payout-numbers"
PAYOUT_NUMBER_CONFIRM_ROUTE = "/api/wallet/payout-numbers/{id}/confirm"


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"
    message = "No such withdrawal."


class PayoutNumberNotFound(NotFound):
    code = "payout_number_not_found"
    message = "No such payout number."


class PayoutNumberUnconfirmed(Conflict):
    """A payout to a phone number the user has not confirmed (or deleted).
    ``details`` name the routes that add and confirm it."""

    code = "payout_number_unconfirmed"
    message = (
        "Money goes only to payout numbers you confirmed: add this number and "
        "confirm it with your code first."
    )


class NotAwaitingConfirmation(Conflict):
    code = "not_awaiting_confirmation"
    message = "This is not waiting for a confirmation code any more."


class ConfirmationExpired(Conflict):
    code = "confirmation_expired"
    message = "The time to confirm this withdrawal has passed; the money is back in your wallet."


class WithdrawalNotCancellable(Conflict):
    code = "withdrawal_not_cancellable"
    message = "Only a withdrawal still waiting for its confirmation code can be cancelled."


class WithdrawalNotSettleable(Conflict):
    code = "withdrawal_not_settleable"
    message = "This withdrawal cannot take that outcome."


class SecurityCooldown(Conflict):
    """A password or authenticator change holds back withdrawals for a while
    (``details.until``)."""

    code = "security_cooldown"
    message = (
        "Withdrawals are paused for a while after a password or authenticator change, "
        "to protect your money."
    )


class WrongCode(InvalidInput):
    code = "invalid_code"
    message = "That code is not right."


class AccountLocked(DomainError):
    code = "account_locked"
    message = "Your account is locked: choose a new password to withdraw again."
    status = status.HTTP_403_FORBIDDEN

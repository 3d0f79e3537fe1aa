"""payments' domain errors (subclasses of dtexchange.errors.DomainError).

The Relworx client's own exceptions stay in ``payments.relworx``: they are the
adapter's, never shown to a user as they are.
"""

from rest_framework import status

from dtexchange.errors import Conflict, DomainError

# --- bank deposits -----------------------------------------------------------------


class DepositAlreadyDecided(Conflict):
    code = "deposit_already_decided"
    message = "This deposit has already been decided."


class NotAReviewer(DomainError):
    code = "permission_denied"
    message = "Only deposit reviewers can decide deposits."
    status = status.HTTP_403_FORBIDDEN


# --- four eyes (payments/services/four_eyes.py; the rule and its errors: dtexchange.four_eyes)


class ProposalAlreadyOpen(Conflict):
    code = "proposal_already_open"
    message = "A proposal for this decision is already waiting for confirmation."


class ProposalNotOpen(Conflict):
    code = "proposal_not_open"
    message = "This proposal is no longer waiting for confirmation."


# --- mobile money --------------------------------------------------------------------


class TooManyPaymentPrompts(DomainError):
    """Too many collection prompts to one number or from one user in a window
    (``details``: ``scope``, ``limit``, ``window_seconds``,
    ``retry_after_seconds``)."""

    code = "too_many_payment_prompts"
    message = "Too many payment prompts were sent recently; please wait before asking for another."
    status = status.HTTP_429_TOO_MANY_REQUESTS


# --- flagged mobile-money payments (payments/services/resolutions.py) ---------------


class NotAResolver(DomainError):
    code = "permission_denied"
    message = "Only deposit reviewers and admins can resolve flagged payments."
    status = status.HTTP_403_FORBIDDEN


class PaymentNotFlagged(Conflict):
    code = "payment_not_flagged"
    message = "This payment is not flagged: there is nothing to resolve."


class FlagAlreadyResolved(Conflict):
    code = "flag_already_resolved"
    message = "This flagged payment has already been resolved."


class CreditNotAllowed(Conflict):
    code = "credit_not_allowed"
    message = "This payment cannot be credited to the user's wallet."

"""The ledger's domain errors (subclasses of dtexchange.errors.DomainError)."""

from rest_framework import status

from dtexchange.errors import Conflict, DomainError


class InsufficientBalance(Conflict):
    """A posting would take a user wallet (or the house reserve) below zero.

    ``details``: ``currency``, and for a user wallet ``available`` and
    ``required`` (decimal strings) — only ever the debited wallet's own figures.
    """

    code = "insufficient_balance"
    message = "Your balance is too low for this."


class InvalidPosting(DomainError):
    """Entries that can never be posted: unbalanced, zero, wrong precision or
    currency, unsaved accounts. A bug in the caller or unchecked input."""

    code = "invalid_posting"
    message = "These ledger entries cannot be posted."
    status = status.HTTP_400_BAD_REQUEST


class IdempotencyKeyReused(Conflict):
    """The key was already used for a posting with different entries."""

    code = "idempotency_key_reused"
    message = "This idempotency key was already used for a different posting."


class ErasureBalanceNotZero(Conflict):
    """An account erasure met a wallet balance that is not zero (and not a
    small balance given up) once the wallets were locked. ``details``:
    ``blockers``, as the erasure's own refusal lists them."""

    code = "erasure_blocked"
    message = "The account cannot be closed yet: a balance is not zero."

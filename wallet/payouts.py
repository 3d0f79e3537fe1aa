"""How money leaves to a phone, and how personal data is sealed.

`wallet` never imports `payments`: the app that talks to the mobile-money
provider registers a ``PayoutMethod`` here from its ``AppConfig.ready``, and
the app that holds the field-encryption keys registers a ``Sealer`` (both are
payments today). The wallet services call them; a method reports outcomes
back through ``wallet.services.withdrawal_payout_settle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from dtexchange.errors import DomainError


class PayoutUnavailable(DomainError):
    code = "payment_method_unavailable"
    message = "Withdrawals to mobile money are unavailable right now."
    status = 409


@dataclass(frozen=True)
class PhoneNumber:
    """A normalised mobile-money number."""

    e164: str  # "+256771234567"
    provider: str  # "mtn" | "airtel"
    masked: str  # what screens show
    lookup_hash: str  # keyed hash, for equality lookups


class PayoutMethod:
    """Base class of a way to pay a withdrawal out to a phone."""

    code: ClassVar[str]  # "mobile_money"
    currencies: ClassVar[tuple[str, ...]] = ()

    def number_parse(self, *, value: Any, field: str) -> PhoneNumber:
        """Validate and normalise a number; raise InvalidInput naming ``field``
        (400 ``invalid_phone_number`` / ``unsupported_network``)."""
        raise NotImplementedError

    def holder_name(self, *, number: PhoneNumber) -> str | None:
        """The number's registered holder: a name, "" when the provider does
        not say (or cannot be asked right now), None never raised for outages."""
        raise NotImplementedError

    def availability(self) -> dict[str, Any]:
        """``{"available": bool, "reason": str | None}``."""
        return {"available": True, "reason": None}

    def payout_start(self, *, user, number: PhoneNumber, amount: Decimal, currency: str) -> str:
        """Called inside the withdrawal's transaction once it is confirmed:
        record the payout (sent after commit) and return its reference."""
        raise NotImplementedError

    def progress(self, *, reference: str) -> dict[str, str]:
        """``{"payee_name": str, "note": str}`` for a payout in flight."""
        return {"payee_name": "", "note": ""}


class Sealer:
    """Encrypts personal data at rest (the project's field-encryption keys)."""

    def seal(self, plain: str) -> str:
        raise NotImplementedError

    def unseal(self, token: str) -> str:
        raise NotImplementedError

    def lookup_hash(self, value: str) -> str:
        raise NotImplementedError


_METHODS: dict[str, PayoutMethod] = {}
_SEALER: list[Sealer] = []


def register(method: PayoutMethod) -> None:
    _METHODS[method.code] = method


def get(code: str) -> PayoutMethod:
    try:
        return _METHODS[code]
    except KeyError:
        raise PayoutUnavailable(details={"method": code}) from None


def sealer_register(sealer: Sealer) -> None:
    _SEALER[:] = [sealer]


def sealer() -> Sealer:
    if not _SEALER:
        raise RuntimeError("No sealer registered: the payments app must be installed.")
    return _SEALER[0]

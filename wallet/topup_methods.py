"""How money comes into the fiat wallet from outside (a top-up).

``wallet`` never imports ``payments``: each top-up method is a small object
that its own app registers here from ``AppConfig.ready`` (payments registers
``mobile_money`` and ``bank_deposit``). The wallet services call the hooks
inside the top-up's database transaction; the method later reports the
outcome through ``wallet.services.deposits`` (``top_up_complete``,
``top_up_fail``, ``top_up_mark_processing``), never by posting on its own.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from dtexchange.errors import InvalidInput

if TYPE_CHECKING:
    from accounts.models import User
    from wallet.models import Deposit


class TopUpMethod:
    """Base class. Subclasses set the class attributes and override the hooks."""

    code: ClassVar[str]  # "mobile_money", "bank_deposit"
    name: ClassVar[str]
    processing_time: ClassVar[str]

    def fee_rate(self) -> Decimal:
        return settings.FEE_RATES[self.code]

    def currencies(self) -> tuple[str, ...]:
        return tuple(settings.PAYMENT_LIMITS.get(self.code, {}).keys())

    def limits(self, currency: str) -> tuple[Decimal, Decimal] | None:
        """(minimum, maximum) of one top-up, or None if the currency is not taken."""
        return settings.PAYMENT_LIMITS.get(self.code, {}).get(currency)

    def pending_ttl(self) -> timedelta:
        """How long a top-up waits for its money before it expires (money
        arriving later is still credited)."""
        raise NotImplementedError

    def availability(self) -> tuple[bool, str | None]:
        """(works right now, a reason a customer understands when not)."""
        return True, None

    def clean_details(
        self, *, user: User, currency: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate ``payment_details``; raise InvalidInput. The result is
        passed to ``start`` only (never stored as it is)."""
        return {}

    def public_details(self, details: dict[str, Any]) -> dict[str, Any]:
        """What of the cleaned details is stored on the top-up and shown."""
        return {}

    def start(self, *, deposit: Deposit, details: dict[str, Any]) -> dict[str, Any]:
        """Inside ``top_up_start``'s transaction, once the top-up row exists
        (``pending``): start the outside payment; return the customer's
        instructions (JSON-safe), with ``reference_code`` when the customer
        must quote one."""
        raise NotImplementedError


_REGISTRY: dict[str, TopUpMethod] = {}


def register(method: TopUpMethod) -> None:
    _REGISTRY[method.code] = method


def unregister(code: str) -> None:
    """For tests that register a method of their own."""
    _REGISTRY.pop(code, None)


def get(code: str) -> TopUpMethod:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise InvalidInput(
            f"Unknown top-up method {code!r}.",
            code="unknown_payment_method",
            details={"method": [f"Choose one of: {', '.join(sorted(_REGISTRY))}."]},
        ) from None


def all_methods() -> list[TopUpMethod]:
    return [_REGISTRY[code] for code in sorted(_REGISTRY)]

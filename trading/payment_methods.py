"""How a trade is paid for (buy) or paid out (sell).

`trading` never imports `payments` or `vouchers`: each method is a
small object that its own app registers here from ``AppConfig.ready``. The
trading services call the hooks below inside the trade's database
transaction; a method settles through the trading services (never by posting
to the ledger on its own terms).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from dtexchange.errors import InvalidInput

if TYPE_CHECKING:
    from accounts.models import User
    from trading.services.trades.common import Settlement


class PaymentMethod:
    """Base class. Subclasses set the class attributes and override the hooks."""

    code: ClassVar[str]  # "mobile_money", "bank_deposit", "voucher", "crypto", "balance"
    name: ClassVar[str]
    processing_time: ClassVar[str]  # shown to people: "Instant", "1-3 minutes", ...
    providers: ClassVar[tuple[str, ...]] = ()
    supports_buy: ClassVar[bool] = True
    supports_sell: ClassVar[bool] = False
    # True when the method's currency is crypto (a swap) rather than fiat.
    is_crypto_swap: ClassVar[bool] = False
    # Sell: the house account kind (ledger.models.AccountKind) that
    # holds the net fiat while the method pays it out, e.g.
    # "mobile_money_clearing". None: the net goes to the user's fiat wallet
    # and the sale completes at once (no start_sell call).
    payout_clearing_kind: ClassVar[str | None] = None

    def fee_rate(self) -> Decimal:
        return settings.FEE_RATES[self.code]

    def limits(self, fiat: str) -> tuple[Decimal, Decimal] | None:
        """(minimum, maximum) fiat amount of one trade, or None if unsupported."""
        return settings.PAYMENT_LIMITS.get(self.code, {}).get(fiat)

    def fiat_currencies(self) -> tuple[str, ...]:
        return tuple(settings.PAYMENT_LIMITS.get(self.code, {}).keys())

    def clean_details(
        self, *, user: User, trade_type: str, fiat: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        """Validate and normalise ``payment_details``; raise InvalidInput.

        The returned dict is stored on the trade, so it must hold nothing
        secret (no plain voucher code; phone numbers are encrypted at rest by
        the method's own model, not stored here in the clear).
        """
        return {}

    def buy_settlement(self, *, trade: Any, details: dict[str, Any]) -> Settlement | None:
        """For a method that pays at once from what the user holds here
        (``balance``, ``crypto``): the buy's completion, computed without
        writing anything (``trading.services.trades.settlement``'s
        ``buy_settlement`` / ``swap_settlement``); the trade is then written
        once, already completed, with its posting, and ``start_buy`` is not
        called. None (the default): the trade is written ``pending`` and
        handed to ``start_buy``."""
        return None

    def start_buy(self, *, trade: Any, details: dict[str, Any]) -> dict[str, Any]:
        """Called inside ``trade_buy``'s transaction once the trade row exists
        (``pending``) and the reserve covers it. Either settles at once through
        the trading services (e.g. ``trade_settle_buy`` by the trade's id, as
        vouchers do), or starts the outside payment and returns the
        instructions the customer needs (JSON-safe)."""
        raise NotImplementedError

    def start_sell(self, *, trade: Any, details: dict[str, Any]) -> dict[str, Any]:
        """Called inside ``trade_sell``'s transaction after the crypto left the
        user's wallet; pays the fiat out."""
        raise NotImplementedError

    def payout_destinations(self, *, user: User) -> list[dict[str, str]]:
        """Sell: where this method may pay ``user`` out that they confirmed
        before, as ``[{"id", "label"}]`` (the label masked) for the site to
        offer. Empty (the default): the user types the details."""
        return []

    def payout_destination_details(self, *, user: User, destination_id: str) -> dict | None:
        """The ``payment_details`` of a sale paid out to one of
        ``payout_destinations``; None when it is not (or no longer) one."""
        return None

    def availability(self) -> dict[str, Any]:
        """Whether buying and selling with this method work right now, and a
        reason a customer understands when one does not:
        ``{"buy": bool, "sell": bool, "reason": str | None}``."""
        return {"buy": self.supports_buy, "sell": self.supports_sell, "reason": None}

    def progress(self, *, trade: Any) -> dict[str, Any]:
        """What the customer is shown about a trade's payment while it runs:
        ``{"payee_name": str, "note": str}`` (both may be empty)."""
        return {"payee_name": "", "note": ""}

    def describe(self, *, pauses: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
        """What the API and the site show; ``pauses`` are the staff's stop
        switches (``switches.selectors.method_pauses_active``), read here
        when not given."""
        fiats = self.fiat_currencies()
        now = dict(self.availability())
        if pauses is None:
            from switches.selectors import switches_snapshot

            pauses = switches_snapshot().paused
        paused = [pauses[key] for key in ((self.code, "buy"), (self.code, "sell")) if key in pauses]
        if (self.code, "buy") in pauses:
            now["buy"] = False
        if (self.code, "sell") in pauses:
            now["sell"] = False
        if paused:
            now["reason"] = paused[0]
        return {
            "id": self.code,
            "name": self.name,
            "fee_rate": str(self.fee_rate()),
            "processing_time": self.processing_time,
            "currencies": list(fiats),
            "limits": {
                fiat: {"min": str(lo), "max": str(hi)}
                for fiat in fiats
                if (bounds := self.limits(fiat))
                for lo, hi in [bounds]
            },
            "providers": list(self.providers),
            "supports_buy": self.supports_buy,
            "supports_sell": self.supports_sell,
            # Right now (e.g. the provider is down): a method can be supported
            # yet unavailable, with the reason shown to the customer.
            "available": bool(now["buy"] or now["sell"]),
            "buy_available": bool(now["buy"]),
            "sell_available": bool(now["sell"]),
            "unavailable_reason": now["reason"],
        }


_REGISTRY: dict[str, PaymentMethod] = {}


def register(method: PaymentMethod) -> None:
    _REGISTRY[method.code] = method


def unregister(code: str) -> None:
    """For tests that register a method of their own."""
    _REGISTRY.pop(code, None)


def get(code: str) -> PaymentMethod:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise InvalidInput(
            f"Unknown payment method {code!r}.",
            code="unknown_payment_method",
            details={"payment_method": [f"Choose one of: {', '.join(sorted(_REGISTRY))}."]},
        ) from None


def all_methods() -> list[PaymentMethod]:
    return [_REGISTRY[code] for code in sorted(_REGISTRY)]


def describe_all() -> list[dict[str, Any]]:
    """Every method as shown to customers, with the stop switches read once."""
    from switches.selectors import switches_snapshot

    pauses = switches_snapshot().paused
    return [method.describe(pauses=pauses) for method in all_methods()]

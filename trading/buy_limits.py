"""How trading counts a buy against the user's limits without importing the
app that owns them: the wallet registers its limits here at start-up
(``AppConfig.ready``), as payment methods are registered. With nothing
registered a buy is refused (fail closed), never let through unlimited."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

_consume: Callable[..., object] | None = None
_release: Callable[..., object] | None = None


def register(*, consume: Callable[..., object], release: Callable[..., object]) -> None:
    """``consume(user=, currency=, amount=, reference=)`` counts a buy under
    the user's limit lock or raises (409); ``release(reference=)`` gives a
    buy's use back when nothing was bought."""
    global _consume, _release
    _consume, _release = consume, release


def consume(*, user, currency: str, amount: Decimal, reference: str) -> None:
    if _consume is None:
        raise RuntimeError("No buy limits are registered (the wallet app registers them).")
    _consume(user=user, currency=currency, amount=amount, reference=reference)


def release(*, reference: str) -> None:
    if _release is None:
        raise RuntimeError("No buy limits are registered (the wallet app registers them).")
    _release(reference=reference)

"""Prices: providers, the cached snapshot, staleness.

A provider returns the USD and UGX price of each coin: simulated, or the
outside feeds of ``PRICE_PROVIDER=http`` (price_feeds: crypto/USD and USD/UGX
legs, each with a fallback, each price aged by its provider's timestamps). ``prices_refresh``
(run by Celery beat every ``PRICE_REFRESH_SECONDS``) stores one snapshot of
every pair in the Django cache (Redis in production) under one key, so a trade
reads all it needs in one round trip, and emits ``price.updated`` per changed
pair through the outbox. ``price_get`` refuses a price whose crypto leg is
older than ``PRICE_MAX_AGE`` or whose FX leg is older than ``FX_MAX_AGE``
(409 ``stale_price``); if no price was ever fetched it
fetches once synchronously so a fresh ``make run`` can trade at once.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Protocol

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from dtexchange.errors import InvalidInput
from ledger.money import CRYPTO_CODES, currency, quantize_rate
from notifications.services import outbox_emit
from trading.errors import PriceUnavailable, StalePrice
from trading.services.price_feeds import (
    HttpPriceProvider,
    PricePoint,
    PriceProviderError,
)

log = structlog.get_logger(__name__)

CACHE_KEY = "trading:prices:v1"
# Kept well past PRICE_MAX_AGE: an old snapshot must still be readable so it
# can be reported stale (409) rather than silently refetched mid-trade.
CACHE_TIMEOUT = 24 * 3600

# Realistic starting points of the simulated feed (USD), and USD/UGX.
SIMULATED_BASE_USD = {
    "BTC": Decimal("97000"),
    "ETH": Decimal("3400"),
    "SOL": Decimal("180"),
    "TRX": Decimal("0.25"),
}
SIMULATED_BASE_USD_UGX = Decimal("3600")
# Each tick moves a price by at most this fraction, and never further than
# SIMULATED_BAND from its base: a bounded random walk.
SIMULATED_STEP = Decimal("0.002")
SIMULATED_BAND = Decimal("0.10")


@dataclass(frozen=True)
class Price:
    crypto: str
    fiat: str
    price: Decimal
    change: Decimal  # percent change against the previous snapshot
    source: str
    at: datetime  # the price's age: its older leg
    # The legs' own times: the crypto/USD market price and, for UGX, the
    # USD→UGX rate (None for USD pairs). Each leg has its own maximum age.
    crypto_at: datetime | None = None
    fx_at: datetime | None = None

    def age_seconds(self, now: datetime | None = None) -> float:
        """The price's age: its older leg (for UGX often the FX rate, hours old)."""
        return ((now or timezone.now()) - self.at).total_seconds()

    def crypto_age_seconds(self, now: datetime | None = None) -> float:
        """The crypto/USD leg's age: what a quote's freshness is judged on (the
        FX leg has its own, longer, FX_MAX_AGE)."""
        return ((now or timezone.now()) - (self.crypto_at or self.at)).total_seconds()

    def is_stale(self, now: datetime | None = None) -> bool:
        """The crypto leg is older than PRICE_MAX_AGE, or the FX leg older than
        FX_MAX_AGE (FX APIs update hourly or daily)."""
        now = now or timezone.now()
        if now - (self.crypto_at or self.at) > settings.PRICE_MAX_AGE:
            return True
        return self.fx_at is not None and now - self.fx_at > settings.FX_MAX_AGE

    def as_dict(self) -> dict:
        return {
            "crypto": self.crypto,
            "fiat": self.fiat,
            "price": str(self.price),
            "change": str(self.change),
            "source": self.source,
            "at": self.at.isoformat(),
            "crypto_at": (self.crypto_at or self.at).isoformat(),
            "fx_at": self.fx_at.isoformat() if self.fx_at else None,
        }


Pairs = dict[tuple[str, str], Decimal]


class PriceProvider(Protocol):
    name: str

    def fetch(self, *, previous: Pairs) -> dict[tuple[str, str], Decimal | PricePoint]:
        """(crypto, fiat) pairs of CRYPTO_CODES x FIAT_CODES: a bare Decimal is
        a price of this moment, a PricePoint carries its legs' own times and
        source. Pairs left out keep their last price (and age). Raise
        PriceProviderError when the source can't deliver anything."""


class SimulatedPriceProvider:
    """A bounded random walk around realistic prices; marked ``simulated``."""

    name = "simulated"

    def __init__(self, *, seed: int | None = None):
        # A simulation, not a secret: the stdlib PRNG is the right tool.
        self._random = random.Random(seed)  # noqa: S311

    def _step(self, previous: Decimal | None, base: Decimal) -> Decimal:
        if previous is None:
            return base
        with localcontext() as ctx:
            ctx.prec = 40
            move = Decimal(self._random.randint(-1000, 1000)) / 1000 * SIMULATED_STEP
            value = previous * (1 + move)
            low, high = base * (1 - SIMULATED_BAND), base * (1 + SIMULATED_BAND)
            return min(max(value, low), high)

    def fetch(self, *, previous: Pairs) -> Pairs:
        prev_ugx_rate = None
        if previous.get(("BTC", "USD")) and previous.get(("BTC", "UGX")):
            prev_ugx_rate = previous[("BTC", "UGX")] / previous[("BTC", "USD")]
        usd_ugx = self._step(prev_ugx_rate, SIMULATED_BASE_USD_UGX)
        out: Pairs = {}
        for code, base in SIMULATED_BASE_USD.items():
            usd = quantize_rate(self._step(previous.get((code, "USD")), base))
            out[(code, "USD")] = usd
            out[(code, "UGX")] = quantize_rate(usd * usd_ugx)
        return out


_simulated = SimulatedPriceProvider()


def price_provider_get() -> PriceProvider:
    if settings.PRICE_PROVIDER == "simulated":
        return _simulated
    if settings.PRICE_PROVIDER == "http":
        return HttpPriceProvider.from_settings()
    raise PriceProviderError(f"unknown PRICE_PROVIDER {settings.PRICE_PROVIDER!r}")


def _decode(snapshot: dict | None) -> dict[tuple[str, str], Price]:
    if not snapshot:
        return {}
    out = {}
    for row in snapshot["pairs"]:
        at = datetime.fromisoformat(row["at"])
        fx_at = row.get("fx_at")
        p = Price(
            crypto=row["crypto"],
            fiat=row["fiat"],
            price=Decimal(row["price"]),
            change=Decimal(row["change"]),
            source=row["source"],
            at=at,
            crypto_at=datetime.fromisoformat(row["crypto_at"]) if row.get("crypto_at") else at,
            fx_at=datetime.fromisoformat(fx_at) if fx_at else None,
        )
        out[(p.crypto, p.fiat)] = p
    return out


# (time.monotonic() when read, snapshot): this process's copy of the cached
# snapshot, kept PRICE_LOCAL_CACHE_SECONDS. Every quote and trade reads the
# snapshot; reading and decoding it from Redis each time was ~5 % of a trade
# request. The snapshot changes every PRICE_REFRESH_SECONDS (5 s), so the
# copy adds at most that fraction of a second to a price's age (the stale
# check still judges the snapshot's own time).
_local: tuple[float, dict] | None = None


def prices_snapshot() -> dict[tuple[str, str], Price]:
    """Every cached price (possibly stale), without fetching."""
    global _local
    ttl = settings.PRICE_LOCAL_CACHE_SECONDS
    local = _local
    if ttl > 0 and local is not None and time.monotonic() - local[0] < ttl:
        return dict(local[1])
    snapshot = _decode(cache.get(CACHE_KEY))
    # An empty snapshot is not kept: the first fetch must be seen at once.
    _local = (time.monotonic(), snapshot) if ttl > 0 and snapshot else None
    return dict(snapshot)


def prices_forget_local() -> None:
    """Drop this process's copy (after writing the snapshot; tests)."""
    global _local
    _local = None


def prices_refresh(*, provider: PriceProvider | None = None) -> list[Price]:
    """Fetch all pairs, store them, emit ``price.updated`` for each pair whose
    price moved (or is new). Returns the changed prices. Raises
    PriceProviderError if the provider fails (the old snapshot stays and
    goes stale)."""
    provider = provider or price_provider_get()
    previous = _decode(cache.get(CACHE_KEY))  # the shared one, not this process's copy
    fetched = provider.fetch(previous={k: v.price for k, v in previous.items()})
    now = timezone.now()
    current: dict[tuple[str, str], Price] = dict(previous)  # pairs not fetched keep ageing
    changed: list[Price] = []
    for (crypto, fiat), point in sorted(fetched.items()):
        if isinstance(point, PricePoint):
            value, crypto_at, fx_at, source = (
                point.price,
                point.crypto_at,
                point.fx_at,
                point.source,
            )
        else:
            value, crypto_at, source = point, now, provider.name
            fx_at = now if fiat != "USD" else None
        at = min(crypto_at, fx_at) if fx_at else crypto_at
        old = previous.get((crypto, fiat))
        if old and old.price:
            with localcontext() as ctx:
                ctx.prec = 40
                change = ((value - old.price) / old.price * 100).quantize(Decimal("0.0001"))
        else:
            change = Decimal("0.0000")
        if old is not None and old.price == value:
            change = old.change  # same price, newer time: keep the last move
        price = Price(crypto, fiat, value, change, source, at, crypto_at, fx_at)
        current[(crypto, fiat)] = price
        if old is None or old.price != value:
            changed.append(price)
    cache.set(CACHE_KEY, {"pairs": [p.as_dict() for p in current.values()]}, CACHE_TIMEOUT)
    prices_forget_local()
    with transaction.atomic():
        for price in changed:
            outbox_emit(kind="price.updated", payload=price.as_dict())
    return changed


def _check_pair(crypto: str, fiat: str) -> None:
    try:
        crypto_cur, fiat_cur = currency(crypto), currency(fiat)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="unknown_currency") from None
    if not crypto_cur.is_crypto or not fiat_cur.is_fiat:
        raise InvalidInput(
            "crypto must be one of BTC, ETH, SOL, TRX and fiat one of USD, UGX.",
            code="invalid_currency_pair",
            details={"crypto_currency": [f"One of {', '.join(CRYPTO_CODES)}."]},
        )


def prices_get_all(*, allow_stale: bool = True) -> dict[tuple[str, str], Price]:
    """The snapshot; fetched synchronously once if nothing was ever fetched."""
    prices = prices_snapshot()
    if not prices:
        try:
            prices_refresh()
        except PriceProviderError as exc:
            log.warning("price_first_fetch_failed", error=str(exc))
            raise PriceUnavailable() from exc
        prices = prices_snapshot()
    if not allow_stale:
        now = timezone.now()
        stale = [p for p in prices.values() if p.is_stale(now)]
        if stale:
            raise StalePrice(details={"age_seconds": int(stale[0].age_seconds(now))})
    return prices


def price_get(
    *, crypto: str, fiat: str, allow_stale: bool = False, snapshot: dict | None = None
) -> Price:
    """The current price of ``crypto`` in ``fiat``; StalePrice (409) if it is
    older than PRICE_MAX_AGE unless ``allow_stale``. ``snapshot``: a result
    of prices_get_all() to read from instead of the cache."""
    _check_pair(crypto, fiat)
    prices = snapshot if snapshot is not None else prices_get_all()
    price = prices.get((crypto.upper(), fiat.upper()))
    if price is None:
        raise PriceUnavailable()
    if not allow_stale and price.is_stale():
        raise StalePrice(
            details={"crypto": price.crypto, "fiat": price.fiat, "at": price.at.isoformat()}
        )
    return price


def price_check_fresh(price: Price) -> Price:
    """``price`` when the house may give it away (a quote, a trade priced
    without one, a re-priced bank deposit): its crypto leg (the one that moves
    by the second; the USD->UGX leg has its own, longer, FX_MAX_AGE) at most
    QUOTE_PRICE_MAX_AGE old. StalePrice (409) otherwise."""
    age = price.crypto_age_seconds()
    if age > settings.QUOTE_PRICE_MAX_AGE.total_seconds():
        raise StalePrice(
            details={
                "crypto": price.crypto,
                "fiat": price.fiat,
                "age_seconds": int(age),
                "max_age_seconds": int(settings.QUOTE_PRICE_MAX_AGE.total_seconds()),
            }
        )
    return price


def price_get_fresh(*, crypto: str, fiat: str, snapshot: dict | None = None) -> Price:
    """price_get, then price_check_fresh: a price fresh enough to sell at."""
    return price_check_fresh(price_get(crypto=crypto, fiat=fiat, snapshot=snapshot))

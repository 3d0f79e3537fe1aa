"""The outside price feeds behind ``PRICE_PROVIDER=http`` (docs/prices.md in
the README's "Prices" section).

Crypto is priced in USD by a market data API and UGX through a USD→UGX rate
from an FX API: CoinGecko has no UGX among its ``vs_currencies``. Each leg has
a primary and a fallback provider:

* crypto/USD: CoinGecko's ``GET {PRICE_HTTP_URL}/simple/price?ids=…&vs_currencies=usd
  &include_last_updated_at=true`` → ``{"bitcoin": {"usd": 97000.1,
  "last_updated_at": 1711356300}}``; fallback Binance's
  ``GET {PRICE_FALLBACK_URL}/api/v3/ticker/price?symbols=["BTCUSDT",…]`` →
  ``[{"symbol": "BTCUSDT", "price": "97000.10"}]`` (USDT taken as USD; the
  answer has no timestamp, so its age starts when it is fetched).
* USD→UGX: ExchangeRate-API's keyless ``GET {FX_HTTP_URL}/v6/latest/USD`` →
  ``{"result": "success", "time_last_update_unix": …, "rates": {"UGX": …}}`` or,
  with ``FX_HTTP_API_KEY``, ``GET {FX_HTTP_URL}/v6/{key}/latest/USD`` →
  ``{…, "conversion_rates": {"UGX": …}}``; errors are ``{"result": "error",
  "error-type": "…"}``, often with HTTP 200. Fallback ``FX_FALLBACK_URL``, same shape.

A leg's age is its provider's own timestamp, and a UGX price is as old as its
older leg. Calls stay inside each provider's plan: CoinGecko at most once per
``PRICE_HTTP_MIN_INTERVAL_SECONDS`` (its ``/simple/price`` is cached 60 s;
the Demo plan's 10,000 calls a month are one call every ~260 s), the FX API
once per ``FX_REFRESH_SECONDS``; between calls the last answer is reused with
its own timestamp. A 429 (or Binance's 418) stops calls to that provider for
its ``Retry-After``. The schedule and the legs live in the shared cache, so
every process (beat, ``manage.py refresh_prices``) keeps to the same budget.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
import structlog
from django.conf import settings
from django.core.cache import cache

from ledger.money import CRYPTO_CODES, quantize_rate

log = structlog.get_logger(__name__)

STATE_KEY = "trading:prices:feeds:v1"
STATE_TIMEOUT = 7 * 24 * 3600
# CoinGecko ids of our coins.
COINGECKO_IDS = {"BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "TRX": "tron"}
# CoinGecko refreshes /simple/price every 60 s: calling more often buys nothing.
COINGECKO_CACHE_SECONDS = 60
DEFAULT_RETRY_AFTER = 60.0


class PriceProviderError(Exception):
    pass


class RateLimited(PriceProviderError):
    def __init__(self, message: str, retry_after: float):
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True)
class Leg:
    value: Decimal
    at: datetime  # the provider's own time for this value
    source: str


@dataclass(frozen=True)
class PricePoint:
    """One pair as fetched: its price, the time of each leg, where it came from."""

    price: Decimal
    crypto_at: datetime
    fx_at: datetime | None
    source: str


@dataclass
class FeedReport:
    """What the last fetch did, leg by leg (for ``manage.py refresh_prices``)."""

    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "").strip()
    if raw.isdigit():
        return float(raw)
    if raw:
        try:
            return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    return DEFAULT_RETRY_AFTER


def _positive(value) -> Decimal:
    number = Decimal(value) if not isinstance(value, Decimal) else value
    if not number.is_finite() or number <= 0:
        raise ValueError(f"not a positive price: {value!r}")
    return number


def _unix(value) -> datetime:
    if isinstance(value, bool) or value is None:
        raise ValueError("missing timestamp")
    return datetime.fromtimestamp(int(Decimal(str(value))), tz=UTC)


class HttpFeed:
    """One provider over HTTP: bounded retries on timeouts, connection errors
    and 5xx; a 429 raises RateLimited at once; other 4xx are not retried."""

    name = "http"

    def __init__(self, *, base_url: str, timeout: float, retries: int, backoff: float = 0.2):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or self.base_url

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def get_json(self, path: str, params: dict | None = None, *, error_body_ok: bool = False):
        """The decoded JSON (numbers as Decimal, never float). With
        ``error_body_ok`` a 4xx whose body is JSON is returned for the caller
        to read (ExchangeRate-API explains its errors in the body)."""
        last_error: Exception | None = None
        with httpx.Client(timeout=self.timeout, headers=self.headers()) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    time.sleep(self.backoff * attempt)
                try:
                    response = client.get(f"{self.base_url}{path}", params=params)
                except httpx.TransportError as exc:  # timeouts, refused connections
                    last_error = exc
                    continue
                if response.status_code in (429, 418):
                    wait = _retry_after(response)
                    raise RateLimited(f"HTTP {response.status_code} from {self.host}", wait)
                if response.status_code >= 500:
                    last_error = PriceProviderError(f"HTTP {response.status_code}")
                    continue
                try:
                    body = json.loads(response.content, parse_float=Decimal, parse_int=Decimal)
                except ValueError as exc:
                    raise PriceProviderError(
                        f"{self.host} answered HTTP {response.status_code} with no JSON"
                    ) from exc
                if response.status_code != 200 and not error_body_ok:
                    raise PriceProviderError(
                        f"HTTP {response.status_code} from {self.host}: {str(body)[:200]}"
                    )
                return body
        raise PriceProviderError(
            f"{self.host} failed after {self.retries + 1} attempts: {last_error}"
        )


class CoinGeckoFeed(HttpFeed):
    """Crypto in USD from CoinGecko's ``/simple/price``. A key on the pro host
    (``pro-api.coingecko.com``) goes in ``x-cg-pro-api-key``, any other in
    ``x-cg-demo-api-key``."""

    name = "coingecko"

    def __init__(self, *, api_key: str = "", **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.api_key:
            pro = self.host.startswith("pro-api.")
            headers["x-cg-pro-api-key" if pro else "x-cg-demo-api-key"] = self.api_key
        return headers

    def fetch(self) -> dict[str, Leg]:
        body = self.get_json(
            "/simple/price",
            {
                "ids": ",".join(COINGECKO_IDS[c] for c in CRYPTO_CODES),
                "vs_currencies": "usd",
                "include_last_updated_at": "true",
                "precision": "full",
            },
        )
        try:
            out = {}
            for code in CRYPTO_CODES:
                row = body[COINGECKO_IDS[code]]
                out[code] = Leg(_positive(row["usd"]), _unix(row["last_updated_at"]), self.name)
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise PriceProviderError(f"unexpected CoinGecko answer: {exc}") from exc
        return out


class BinanceFeed(HttpFeed):
    """Crypto in USD from Binance's ``/api/v3/ticker/price`` (USDT pairs)."""

    name = "binance"

    def fetch(self) -> dict[str, Leg]:
        symbols = {f"{code}USDT": code for code in CRYPTO_CODES}
        body = self.get_json(
            "/api/v3/ticker/price",
            {"symbols": json.dumps(list(symbols), separators=(",", ":"))},
        )
        now = datetime.now(UTC)  # the answer carries no time: it is the market now
        try:
            rows = {row["symbol"]: row["price"] for row in body}
            out = {code: Leg(_positive(rows[sym]), now, self.name) for sym, code in symbols.items()}
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise PriceProviderError(f"unexpected Binance answer: {exc}") from exc
        return out


class ExchangeRateFeed(HttpFeed):
    """USD→UGX from an ExchangeRate-API-shaped ``/v6`` endpoint, keyless or keyed."""

    def __init__(self, *, api_key: str = "", **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key

    @property
    def name(self) -> str:  # e.g. "open.er-api.com": which FX API priced a UGX pair
        return self.host

    def fetch(self) -> Leg:
        path = f"/v6/{self.api_key}/latest/USD" if self.api_key else "/v6/latest/USD"
        body = self.get_json(path, error_body_ok=True)
        if not isinstance(body, dict) or body.get("result") != "success":
            kind = body.get("error-type") if isinstance(body, dict) else None
            raise PriceProviderError(f"{self.host} refused: {kind or str(body)[:100]}")
        try:
            rates = body.get("conversion_rates") or body.get("rates")
            return Leg(_positive(rates["UGX"]), _unix(body["time_last_update_unix"]), self.name)
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise PriceProviderError(f"unexpected FX answer from {self.host}: {exc}") from exc


def coingecko_min_interval() -> float:
    """Seconds between two CoinGecko calls: its cache time, the beat period
    and the monthly budget (``PRICE_HTTP_CALLS_PER_MONTH``), whichever is longest."""
    per_month = max(1, settings.PRICE_HTTP_CALLS_PER_MONTH)
    return max(
        float(COINGECKO_CACHE_SECONDS),
        float(settings.PRICE_REFRESH_SECONDS),
        30 * 24 * 3600 / per_month,
    )


def _leg_json(leg: Leg) -> dict:
    return {"value": str(leg.value), "at": leg.at.timestamp(), "source": leg.source}


def _oldest(raw: dict) -> float:
    if "at" in raw:
        return raw["at"]
    return min(leg["at"] for leg in raw.values())


def _leg_from(raw: dict) -> Leg:
    return Leg(Decimal(raw["value"]), datetime.fromtimestamp(raw["at"], tz=UTC), raw["source"])


class HttpPriceProvider:
    """``PRICE_PROVIDER=http``: both legs, each with its fallback (see module doc)."""

    name = "http"

    def __init__(
        self,
        *,
        crypto: list[tuple[object, float]],
        fx: list[tuple[object, float]],
    ):
        # (feed, seconds between its calls), primary first.
        self.crypto = crypto
        self.fx = fx
        self.report = FeedReport()

    @classmethod
    def from_settings(cls) -> HttpPriceProvider:
        common = {
            "timeout": settings.PRICE_HTTP_TIMEOUT_SECONDS,
            "retries": settings.PRICE_HTTP_RETRIES,
        }
        if not settings.PRICE_HTTP_URL or not settings.FX_HTTP_URL:
            raise PriceProviderError("PRICE_PROVIDER=http needs PRICE_HTTP_URL and FX_HTTP_URL.")
        crypto: list[tuple[object, float]] = [
            (
                CoinGeckoFeed(
                    base_url=settings.PRICE_HTTP_URL, api_key=settings.PRICE_HTTP_API_KEY, **common
                ),
                coingecko_min_interval(),
            )
        ]
        if settings.PRICE_FALLBACK_URL:
            crypto.append((BinanceFeed(base_url=settings.PRICE_FALLBACK_URL, **common), 0.0))
        fx_every = float(settings.FX_REFRESH_SECONDS)
        fx: list[tuple[object, float]] = [
            (
                ExchangeRateFeed(
                    base_url=settings.FX_HTTP_URL, api_key=settings.FX_HTTP_API_KEY, **common
                ),
                fx_every,
            )
        ]
        if settings.FX_FALLBACK_URL:
            fx.append(
                (
                    ExchangeRateFeed(
                        base_url=settings.FX_FALLBACK_URL,
                        api_key=settings.FX_FALLBACK_API_KEY,
                        **common,
                    ),
                    fx_every,
                )
            )
        return cls(crypto=crypto, fx=fx)

    # --- one leg ------------------------------------------------------------
    def _leg(self, label: str, feeds, state: dict, now: float, max_age: float):
        """The leg's current value. Providers are tried primary first: one
        whose last answer is still within ``max_age`` and whose next call is
        not due yet gives that answer again (with its own time); one that is
        due is called; one that fails, is rate-limited or would only repeat
        an answer too old to trade on gives way to the next."""
        slot = state.setdefault(label, {})
        stored = slot.get("value")
        for index, (feed, every) in enumerate(feeds):
            key = f"{label}:{index}"
            until = state.setdefault("backoff", {}).get(key, 0)
            if now < until:
                self.report.add(f"{label}: {feed.name} rate-limited for {int(until - now)} s more")
                continue
            due = state.setdefault("due", {}).get(key, 0)
            if now < due:  # not this provider's turn: never call it early
                last = index + 1 == len(feeds)
                if stored is not None and slot.get("from") == index:
                    if _oldest(stored) + max_age >= now or last:
                        self.report.add(
                            f"{label}: {feed.name}'s last answer reused "
                            f"(next call in {int(due - now)} s)"
                        )
                        return stored
                    self.report.add(
                        f"{label}: {feed.name}'s last answer is too old; asking the next provider"
                    )
                continue
            try:
                value = feed.fetch()
            except RateLimited as exc:
                state["backoff"][key] = now + exc.retry_after
                log.warning("price_feed_rate_limited", feed=feed.name, retry_after=exc.retry_after)
                self.report.add(
                    f"{label}: {feed.name} rate-limited ({exc}); waits {int(exc.retry_after)} s"
                )
                continue
            except PriceProviderError as exc:
                log.warning("price_feed_failed", feed=feed.name, error=str(exc))
                self.report.add(f"{label}: {feed.name} failed: {exc}")
                continue
            state["due"][key] = now + every
            slot["from"] = index
            slot["value"] = (
                {c: _leg_json(leg) for c, leg in value.items()}
                if isinstance(value, dict)
                else _leg_json(value)
            )
            self.report.add(f"{label}: {feed.name} answered")
            return slot["value"]
        if stored is not None:
            self.report.add(f"{label}: no provider answered; the last value is kept (ageing)")
        return stored

    def fetch(self, *, previous) -> dict[tuple[str, str], PricePoint]:
        self.report = FeedReport()
        state = cache.get(STATE_KEY) or {}
        now = time.time()
        crypto_raw = self._leg(
            "crypto", self.crypto, state, now, settings.PRICE_MAX_AGE.total_seconds()
        )
        fx_raw = self._leg("fx", self.fx, state, now, settings.FX_MAX_AGE.total_seconds())
        cache.set(STATE_KEY, state, STATE_TIMEOUT)
        if crypto_raw is None:
            raise PriceProviderError(
                "no crypto price from any provider: " + "; ".join(self.report.lines)
            )
        fx = _leg_from(fx_raw) if fx_raw is not None else None
        out: dict[tuple[str, str], PricePoint] = {}
        for code, raw in crypto_raw.items():
            leg = _leg_from(raw)
            out[(code, "USD")] = PricePoint(quantize_rate(leg.value), leg.at, None, leg.source)
            if fx is not None:
                out[(code, "UGX")] = PricePoint(
                    quantize_rate(leg.value * fx.value), leg.at, fx.at, f"{leg.source}+{fx.source}"
                )
        return out


def price_feeds_forget() -> None:
    """Drop the feeds' schedule and last answers (a changed configuration; tests)."""
    cache.delete(STATE_KEY)

"""The outside price feeds behind ``PRICE_PROVIDER=http`` (the README's
"Prices" section).

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
older leg.

Cadence and ages (the figures are the settings'; README "Prices"). Beat asks
for prices every ``PRICE_REFRESH_SECONDS`` (5 s). A provider's last answer is
used again only while it is young enough to stay usable until the next tick:
for the crypto leg, younger than ``QUOTE_PRICE_MAX_AGE`` (20 s, the age a
quote may be built on) less one tick; for the FX leg, ``FX_MAX_AGE`` less one
tick. When it is older, the next provider is asked, even if the first one's
turn has not come, so a quote never waits for a price. CoinGecko is called at
most once per ``coingecko_min_interval()``: its ``/simple/price`` is cached 60 s
(20 s on the pro host), so its answers are often already older than a quote
allows, and the Demo plan's 10,000 calls a month are one call every ~260 s
(its ~30 calls a minute never bind). On that plan CoinGecko prices trades
for a few seconds after each call and the Binance fallback (no monthly
budget; a call costs 4 of its 6,000 weight a minute) the rest of the time.
The FX API is called once per ``FX_REFRESH_SECONDS`` (hourly: the keyless
ExchangeRate-API updates daily and never rate-limits hourly callers).

Failures back off per provider: after ``n`` failures in a row it is not called
again for ``PRICE_FEED_BACKOFF_SECONDS * 2**(n-1)`` seconds, at most
``PRICE_FEED_BACKOFF_MAX_SECONDS`` (the FX leg at most ``FX_REFRESH_SECONDS``).
A 429 (or Binance's 418) waits its ``Retry-After`` when the answer has one
(Binance documents it), else the provider's documented penalty (20 minutes
for the keyless ExchangeRate-API) or the backoff, at least 60 s. The
schedule, the backoff and each provider's last answer live in the shared
cache, so every process (beat, ``manage.py refresh_prices``) keeps to the
same budget.
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

STATE_KEY = "trading:prices:feeds:v2"
STATE_TIMEOUT = 7 * 24 * 3600
# CoinGecko ids of our coins.
COINGECKO_IDS = {"BTC": "bitcoin", "ETH": "ethereum", "SOL": "solana", "TRX": "tron"}
# CoinGecko refreshes /simple/price every 60 s (20 s on the pro host, paid
# plans): calling more often buys nothing.
COINGECKO_CACHE_SECONDS = 60
COINGECKO_PRO_CACHE_SECONDS = 20
# The least a 429 without Retry-After waits (rate windows are per minute).
MIN_RATE_LIMIT_WAIT = 60.0


class PriceProviderError(Exception):
    pass


class RateLimited(PriceProviderError):
    """A 429 (Binance: also 418). ``retry_after``: the answer's Retry-After in
    seconds, None when it has none."""

    def __init__(self, message: str, retry_after: float | None):
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


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (a number or an HTTP date); None when absent or unreadable."""
    raw = response.headers.get("Retry-After", "").strip()
    if raw.isdigit():
        return float(raw)
    if raw:
        try:
            return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    return None


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
    # How long a 429 without Retry-After keeps this provider closed, when its
    # documentation says (None: the exponential backoff, at least a minute).
    rate_limit_seconds: float | None = None

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
                    raise RateLimited(
                        f"HTTP {response.status_code} from {self.host}", _retry_after(response)
                    )
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

    @property
    def pro(self) -> bool:
        return self.host.startswith("pro-api.")

    @property
    def cache_seconds(self) -> int:
        """How long CoinGecko keeps serving one /simple/price answer."""
        return COINGECKO_PRO_CACHE_SECONDS if self.pro else COINGECKO_CACHE_SECONDS

    def headers(self) -> dict[str, str]:
        headers = super().headers()
        if self.api_key:
            headers["x-cg-pro-api-key" if self.pro else "x-cg-demo-api-key"] = self.api_key
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

    # The keyless endpoint's documented penalty: "Rate limited IP's will
    # receive HTTP code 429 responses. After 20 minutes the rate limit will
    # finish" (no Retry-After is promised).
    rate_limit_seconds = 20 * 60.0

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


def coingecko_min_interval(feed: CoinGeckoFeed | None = None) -> float:
    """Seconds between two CoinGecko calls: its cache time, the beat period
    and the monthly budget (``PRICE_HTTP_CALLS_PER_MONTH``), whichever is longest."""
    per_month = max(1, settings.PRICE_HTTP_CALLS_PER_MONTH)
    cache_seconds = feed.cache_seconds if feed is not None else COINGECKO_CACHE_SECONDS
    return max(
        float(cache_seconds),
        float(settings.PRICE_REFRESH_SECONDS),
        30 * 24 * 3600 / per_month,
    )


def crypto_reuse_seconds() -> float:
    """How old a crypto answer may be and still be used: young enough to stay
    within QUOTE_PRICE_MAX_AGE until the next beat tick."""
    return settings.QUOTE_PRICE_MAX_AGE.total_seconds() - settings.PRICE_REFRESH_SECONDS


def fx_reuse_seconds() -> float:
    return settings.FX_MAX_AGE.total_seconds() - settings.PRICE_REFRESH_SECONDS


def backoff_seconds(failures: int, *, cap: float) -> float:
    """The wait after ``failures`` failures in a row: doubling from
    PRICE_FEED_BACKOFF_SECONDS, at most ``cap``."""
    base = float(settings.PRICE_FEED_BACKOFF_SECONDS)
    return min(cap, base * 2 ** max(0, failures - 1))


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
        gecko = CoinGeckoFeed(
            base_url=settings.PRICE_HTTP_URL, api_key=settings.PRICE_HTTP_API_KEY, **common
        )
        crypto: list[tuple[object, float]] = [(gecko, coingecko_min_interval(gecko))]
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
    def _leg(self, label: str, feeds, state: dict, now: float, *, reuse: float, cap: float):
        """The leg's current value, providers tried primary first (module doc).

        A provider's last answer no older than ``reuse`` seconds is used again
        while the provider's next call is not due, or while it backs off; else
        the provider is called when due and not backing off, and its answer
        used if it is no older than ``reuse`` (CoinGecko's cache can hand out
        an answer already too old). When no provider gives a usable answer,
        the youngest answer any of them gave is kept (ageing: the prices
        layer calls it stale past PRICE_MAX_AGE / FX_MAX_AGE)."""
        answers = state.setdefault("answers", {})
        due_at = state.setdefault("due", {})
        failing = state.setdefault("failing", {})
        for index, (feed, every) in enumerate(feeds):
            key = f"{label}:{index}"
            last = answers.get(key)
            usable = last is not None and now - _oldest(last) <= reuse
            waiting = now < failing.get(key, {}).get("until", 0)
            if usable and (now < due_at.get(key, 0) or waiting):
                self.report.add(f"{label}: {feed.name}'s last answer reused")
                return last
            if waiting:
                left = int(failing[key]["until"] - now)
                self.report.add(f"{label}: {feed.name} backs off for {left} s more")
                continue
            if now < due_at.get(key, 0):  # not its turn, and its last answer is too old
                self.report.add(f"{label}: {feed.name}'s last answer is too old; next provider")
                continue
            try:
                value = feed.fetch()
            except PriceProviderError as exc:
                count = failing.get(key, {}).get("count", 0) + 1
                wait = backoff_seconds(count, cap=cap)
                if isinstance(exc, RateLimited):
                    if exc.retry_after is not None:
                        wait = exc.retry_after
                    else:
                        wait = max(wait, feed.rate_limit_seconds or MIN_RATE_LIMIT_WAIT)
                failing[key] = {"count": count, "until": now + wait}
                log.warning("price_feed_failed", feed=feed.name, error=str(exc), wait=wait)
                self.report.add(f"{label}: {feed.name} failed: {exc}; waits {int(wait)} s")
                continue
            failing.pop(key, None)
            due_at[key] = now + every
            answers[key] = (
                {c: _leg_json(leg) for c, leg in value.items()}
                if isinstance(value, dict)
                else _leg_json(value)
            )
            if now - _oldest(answers[key]) <= reuse:
                self.report.add(f"{label}: {feed.name} answered")
                return answers[key]
            self.report.add(
                f"{label}: {feed.name} answered, {int(now - _oldest(answers[key]))} s old: "
                "too old to quote on; next provider"
            )
        kept = [answers[f"{label}:{i}"] for i in range(len(feeds)) if f"{label}:{i}" in answers]
        if not kept:
            return None
        self.report.add(f"{label}: no provider gave a fresh answer; the youngest is kept (ageing)")
        return max(kept, key=_oldest)

    def fetch(self, *, previous) -> dict[tuple[str, str], PricePoint]:
        self.report = FeedReport()
        state = cache.get(STATE_KEY) or {}
        now = time.time()
        crypto_raw = self._leg(
            "crypto",
            self.crypto,
            state,
            now,
            reuse=crypto_reuse_seconds(),
            cap=float(settings.PRICE_FEED_BACKOFF_MAX_SECONDS),
        )
        fx_raw = self._leg(
            "fx",
            self.fx,
            state,
            now,
            reuse=fx_reuse_seconds(),
            cap=float(max(settings.PRICE_FEED_BACKOFF_MAX_SECONDS, settings.FX_REFRESH_SECONDS)),
        )
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

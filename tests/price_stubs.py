"""Local stand-ins for the outside price and FX APIs, real HTTP servers on
127.0.0.1 speaking each provider's documented shapes, errors included:

* CoinGecko ``GET /api/v3/simple/price`` (``vs_currencies`` limited to the
  supported list, which has no UGX; ``include_last_updated_at``; 429 with
  CoinGecko's error body). CoinGecko's documentation lists the 429 but
  promises no ``Retry-After``: none by default, one when ``retry_after`` is
  set (the code must survive both).
* Binance ``GET /api/v3/ticker/price?symbols=[…]`` (400 ``{"code": -1121,
  "msg": "Invalid symbol."}``, 429/418 always with ``Retry-After``, as its
  documentation says).
* ExchangeRate-API, two services: the keyless Open Access host
  (``open.er-api.com``, ``key`` empty) answers only ``GET /v6/latest/USD``
  (``rates``); rate-limited it answers HTTP 429 with no ``Retry-After`` for
  20 minutes, as documented. The keyed host (``v6.exchangerate-api.com``,
  ``key`` set) answers only ``GET /v6/{KEY}/latest/USD``
  (``conversion_rates``): another key, or the keyless path (whose "latest"
  it reads as the key), is ``invalid-key``; its monthly quota spent is
  ``quota-reached``. Errors are ``{"result": "error", "error-type": …}`` with
  HTTP 200 or, when ``error_status`` is set, that status.

Each stub counts its requests and takes its answer from ``mode``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# CoinGecko's supported vs_currencies (no UGX).
GECKO_VS = {"btc", "eth", "usd", "eur", "gbp", "kes", "ngn", "zar", "aed", "sats", "bits"}
GECKO_USD = {"bitcoin": "97123.45", "ethereum": "3401.5", "solana": "180.12", "tron": "0.2498"}
BINANCE_USDT = {"BTCUSDT": "97200.10", "ETHUSDT": "3405.00", "SOLUSDT": "180.50", "TRXUSDT": "0.25"}


class _Stub:
    def __init__(self):
        self.mode = "ok"
        self.retry_after: str | None = None  # a 429's Retry-After, where one is sent
        self.requests: list[tuple[str, dict]] = []  # (path, headers)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stub.requests.append((self.path, dict(self.headers)))
                status, body, headers = stub.answer(urlsplit(self.path), self.headers)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _limited(self) -> dict:
        return {"Retry-After": self.retry_after} if self.retry_after else {}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def calls(self) -> int:
        return len(self.requests)


class CoinGeckoStub(_Stub):
    """Modes: ok, 429, 500, garbage, sleep."""

    def __init__(self, *, last_updated_at: int | None = None):
        super().__init__()
        self.last_updated_at = last_updated_at
        self.prices = dict(GECKO_USD)

    @property
    def url(self) -> str:
        return f"{self.base}/api/v3"

    def answer(self, url, headers):
        if url.path != "/api/v3/simple/price":
            return 404, {"error": "Not found"}, {}
        if self.mode == "429":
            body = {
                "status": {
                    "error_code": 429,
                    "error_message": "You've exceeded the Rate Limit. Please visit "
                    "https://www.coingecko.com/en/api/pricing to subscribe to our API plans "
                    "for higher rate limits.",
                }
            }
            return 429, body, self._limited()
        if self.mode == "500":
            return 500, {"error": "Internal server error"}, {}
        if self.mode == "sleep":
            time.sleep(1.0)
        if self.mode == "garbage":
            return 200, b"<html>maintenance</html>", {}
        query = parse_qs(url.query)
        ids = query.get("ids", [""])[0].split(",")
        vs = [v for v in query.get("vs_currencies", [""])[0].split(",") if v in GECKO_VS]
        with_time = query.get("include_last_updated_at", ["false"])[0] == "true"
        out = {}
        for coin in ids:
            if coin not in self.prices:
                continue
            row = {}
            for currency in vs:
                # Only USD is priced here; other supported currencies are left
                # out of the rows, as unsupported ones are by CoinGecko.
                if currency == "usd":
                    row["usd"] = self.prices[coin]
            if with_time:
                # Default: an answer CoinGecko's cache refreshed moments ago.
                row["last_updated_at"] = self.last_updated_at or int(time.time()) - 3
            out[coin] = row
        # Raw JSON numbers, as CoinGecko sends them (never through float here).
        text = json.dumps(out)
        for value in self.prices.values():
            text = text.replace(f'"{value}"', value)
        return 200, text.encode(), {}


class BinanceStub(_Stub):
    """Modes: ok, 429, 418, 500, invalid_symbol."""

    def __init__(self):
        super().__init__()
        self.prices = dict(BINANCE_USDT)
        self.retry_after = "30"  # Binance sends it with every 429 and 418

    @property
    def url(self) -> str:
        return self.base

    def answer(self, url, headers):
        if url.path != "/api/v3/ticker/price":
            return 404, {"code": -1, "msg": "Not found"}, {}
        if self.mode in ("429", "418"):
            message = "Too many requests; current limit of IP is 6000 requests per 1 MINUTE."
            return int(self.mode), {"code": -1003, "msg": message}, self._limited()
        if self.mode == "500":
            return (
                500,
                {"code": -1001, "msg": "Internal error; unable to process your request."},
                {},
            )
        try:
            symbols = json.loads(parse_qs(url.query).get("symbols", ["[]"])[0])
        except ValueError:
            return 400, {"code": -1100, "msg": "Illegal characters found in parameter."}, {}
        if self.mode == "invalid_symbol" or any(s not in self.prices for s in symbols):
            return 400, {"code": -1121, "msg": "Invalid symbol."}, {}
        return 200, [{"symbol": s, "price": self.prices[s]} for s in symbols], {}


class ExchangeRateStub(_Stub):
    """Modes: ok, rate-limited, quota-reached, invalid-key, inactive-account,
    unsupported-code, malformed-request, 500, no_ugx. ``key`` empty: the
    keyless Open Access host; set: the keyed host, which accepts that key only
    (module doc). ``rate-limited``: the keyless host answers 429 for 20 minutes
    from its first refusal; the keyed host, which has a monthly quota instead,
    ``quota-reached``."""

    RATE_LIMIT_SECONDS = 20 * 60
    # Errors of the keyed host only (the keyless one has no key and no quota).
    KEYED_ERRORS = ("quota-reached", "invalid-key", "inactive-account", "malformed-request")

    def __init__(self, *, key: str = "", ugx: str = "3712.5", updated: int | None = None):
        super().__init__()
        self.key = key
        self.ugx = ugx
        self.updated = updated
        self.error_status = 200  # ExchangeRate-API often sends errors with HTTP 200
        self.limited_until: float | None = None

    @property
    def url(self) -> str:
        return self.base

    def _error(self, kind: str):
        body = {
            "result": "error",
            "documentation": "https://www.exchangerate-api.com/docs",
            "terms-of-use": "https://www.exchangerate-api.com/terms",
            "error-type": kind,
        }
        return self.error_status, body, {}

    def answer(self, url, headers):
        parts = url.path.strip("/").split("/")
        if self.mode == "500":
            return 500, b"Internal Server Error", {}
        if self.key:  # the keyed host: /v6/{KEY}/latest/USD only
            if parts[:2] == ["v6", "latest"]:  # the keyless path: "latest" read as the key
                return self._error("invalid-key")
            if len(parts) != 4 or parts[0] != "v6" or parts[2] != "latest":
                return self._error("malformed-request")
            if parts[1] != self.key:
                return self._error("invalid-key")
            if self.mode == "rate-limited":
                return self._error("quota-reached")
            field = "conversion_rates"
        else:  # the keyless Open Access host: /v6/latest/USD only
            if len(parts) != 3 or parts[:2] != ["v6", "latest"]:
                return 404, b"Not Found", {}
            if self.mode == "rate-limited" and self.limited_until is None:
                self.limited_until = time.time() + self.RATE_LIMIT_SECONDS
            if self.limited_until is not None:
                if time.time() < self.limited_until:
                    return 429, b"Too Many Requests", {}
                self.limited_until = None
                self.mode = "ok"
            field = "rates"
        if self.mode in self.KEYED_ERRORS and not self.key:
            raise AssertionError(f"the keyless host has no keys or quota: no {self.mode!r}")
        if self.mode in (*self.KEYED_ERRORS, "unsupported-code"):
            return self._error(self.mode)
        if parts[-1] != "USD":
            return self._error("unsupported-code")
        updated = self.updated or int(time.time()) - 3 * 3600
        body = {
            "result": "success",
            "documentation": "https://www.exchangerate-api.com/docs",
            "time_last_update_unix": updated,
            "time_last_update_utc": time.strftime(
                "%a, %d %b %Y %H:%M:%S +0000", time.gmtime(updated)
            ),
            "time_next_update_unix": updated + 86400,
            "base_code": "USD",
            field: {"USD": 1, "EUR": 0.9013, "KES": 129.2},
        }
        if self.mode != "no_ugx":
            body[field]["UGX"] = "__UGX__"
        return 200, json.dumps(body).replace('"__UGX__"', self.ugx).encode(), {}

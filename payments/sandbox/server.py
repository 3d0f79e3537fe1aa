"""The sandbox HTTP server (stdlib ``ThreadingHTTPServer``).

Relworx v2 endpoints under ``/api``, in the documented shapes:
  POST /api/mobile-money/request-payment   (collection)
  POST /api/mobile-money/send-payment      (payout; refused when the float is short)
  GET  /api/mobile-money/check-request-status?internal_reference=…&account_no=…
       → {success, status (the call's), request_status (the transaction's),
          message, customer_reference, internal_reference, msisdn, amount,
          currency, provider, charge, provider_transaction_id, completed_at}
  POST /api/mobile-money/validate {msisdn} → {success, message, customer_name}
       (Airtel numbers only, as the docs say)
  GET|POST /api/mobile-money/check-wallet-balance?account_no&currency → {success, balance}
  GET  /api/payment-requests/transactions?account_no → {success, transactions: [...]}
with the real auth checks (``Authorization: Bearer <key>``,
``Accept: application/vnd.relworx.v2``, the account number) and error bodies
``{"success": false, "message", "error_code"}``. A request is ``pending`` for
``webhook_delay`` seconds, then takes the final status its test number
scripts, and the signed webhook (the docs' shape, with ``charge``) goes to
``webhook_url``. Providers are named as the docs name them
(``mtn_mobile_money``, ``airtel_money``).

A repeated reference with the same payload gets the original answer, or (test
number +256770000010) 409 "duplicate reference": the docs allow both. With a
different payload, 409.

Helpers for people and tests (not part of Relworx):
  GET  /sandbox                 the test numbers and switches
  GET  /sandbox/requests        every request seen, newest last
  POST /sandbox/requests/<internal_reference>/webhook   send its webhook again now
  POST /sandbox/switches {name: value}   turn an unpleasant answer on (null: off)
  POST /sandbox/transactions {record}    add a statement record unknown to the app
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from payments.sandbox.scenarios import SCENARIOS, SWITCHES, Scenario, scenario_for
from payments.signature import signature_header

ACCEPT = "application/vnd.relworx.v2"
MSISDN_RE = re.compile(r"^\+256\d{9}$")
MIN_UGX, MAX_UGX = Decimal(500), Decimal(5_000_000)
_AIRTEL = ("70", "74", "75", "730", "731")
CHARGE_RATE = Decimal("0.025")  # the docs' sample: 12.5 on 500
DEFAULT_FLOAT = Decimal(10_000_000)


@dataclass
class SandboxRequest:
    kind: str  # collection | payout
    reference: str
    internal_reference: str
    msisdn: str
    amount: Decimal
    currency: str
    description: str
    created_at: float
    scenario: Scenario
    final_status: str
    webhooks_sent: int = 0
    answered_error: bool = False
    settled: bool = False  # its effect on the float is counted
    payload: dict = field(default_factory=dict)

    def status(self, delay: float, now: float) -> str:
        if self.final_status == "pending" or now - self.created_at < delay:
            return "pending"
        return self.final_status

    def reported_amount(self) -> Decimal:
        return self.amount + self.scenario.amount_delta

    def charge(self) -> Decimal:
        return (self.amount * CHARGE_RATE).quantize(Decimal("0.1"))

    def provider(self) -> str:
        return provider_of(self.msisdn)


def provider_of(msisdn: str) -> str:
    return "airtel_money" if msisdn[4:].startswith(_AIRTEL) else "mtn_mobile_money"


def _error(message: str, error_code: str = "") -> dict:
    body = {"success": False, "message": message}
    if error_code:
        body["error_code"] = error_code
    return body


def _json_amount(amount: Decimal):
    return int(amount) if amount == amount.to_integral_value() else str(amount)


class SandboxServer:
    """Start with ``start()`` (a background thread) or ``serve_forever()``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str,
        account_no: str,
        webhook_url: str,
        webhook_secret: str,
        webhook_delay: float = 2.0,
        webhook_gap: float = 0.2,
        webhook_cafile: str | None = None,
    ):
        self.api_key = api_key
        self.account_no = account_no
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_delay = webhook_delay
        self.webhook_gap = webhook_gap  # between repeated deliveries of one event
        # The CA that an HTTPS webhook URL's certificate is checked against
        # (e.g. a test's own). Given to each call: urllib's shared opener keeps
        # the trust of whenever the process first used it.
        self.webhook_context = (
            ssl.create_default_context(cafile=webhook_cafile) if webhook_cafile else None
        )
        self.requests: dict[str, SandboxRequest] = {}
        self.switches: dict[str, object] = {}
        self.float = DEFAULT_FLOAT
        self.foreign: list[dict] = []  # statement records the app never asked for
        self.by_reference: dict[str, str] = {}
        self.deliveries: list[dict] = []  # what each webhook POST got back
        self.hits: list[tuple[str, str, int]] = []  # (method, path, status) of API calls
        self.lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}/api"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop a server started with ``start()``."""
        self._httpd.shutdown()
        self.close()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        # A webhook already on its way is let finish (its own timeout bounds
        # it): a test's teardown must not empty the database under a request
        # the sandbox is still making.
        for timer in self._timers:
            if timer.is_alive() and timer is not threading.current_thread():
                timer.join(timeout=15)
        self._httpd.server_close()

    # --- behaviour ------------------------------------------------------------
    def create(self, kind: str, body: dict) -> tuple[int, dict]:
        error = self._validate(body)
        if error:
            return error
        reference = body["reference"]
        msisdn = body["msisdn"]
        amount = Decimal(str(body["amount"]))
        scenario = scenario_for(msisdn)
        payload = {k: body.get(k) for k in ("reference", "msisdn", "currency", "amount")}
        with self.lock:
            existing_ir = self.by_reference.get(reference)
            if existing_ir:
                existing = self.requests[existing_ir]
                if (
                    existing.payload != payload
                    or existing.kind != kind
                    or existing.scenario.duplicate_refused
                ):
                    return 409, _error("Duplicate reference.", "DUPLICATE_REFERENCE")
                return 200, self._accepted(existing)
            if scenario.reject:
                return scenario.reject, _error(scenario.message, "INVALID_PARAMETERS")
            if kind == "payout" and amount > self.float:
                return 400, _error("Insufficient wallet balance.", "INSUFFICIENT_BALANCE")
            final = scenario.collection if kind == "collection" else scenario.payout
            req = SandboxRequest(
                kind=kind,
                reference=reference,
                internal_reference=secrets.token_hex(16),
                msisdn=msisdn,
                amount=amount,
                currency=body["currency"],
                description=str(body.get("description") or ""),
                created_at=time.time(),
                scenario=scenario,
                final_status=final,
                payload=payload,
            )
            self.requests[req.internal_reference] = req
            self.by_reference[reference] = req.internal_reference
            first_error = scenario.http_error_first and not req.answered_error
            req.answered_error = True
        if final != "pending":
            for n in range(scenario.webhooks):
                self._schedule(req, self.webhook_delay + n * self.webhook_gap)
        if first_error:
            return scenario.http_error_first, _error("Service unavailable.")
        return 200, self._accepted(req)

    def status_of(self, internal_reference: str, account_no: str) -> tuple[int, dict]:
        if account_no != self.account_no:
            return 403, _error("Invalid account number.", "INVALID_PARAMETERS")
        with self.lock:
            req = self.requests.get(internal_reference)
        if req is None:
            return 404, _error("Transaction not found.")
        return 200, self._status_answer(req)

    def _status_answer(self, req: SandboxRequest) -> dict:
        event = self._event(req)
        txn = event.pop("status")
        body = {"success": True, "status": "success", "request_status": txn, **event}
        if self.switches.get("status_is_transaction"):
            body["status"] = txn
        if self.switches.get("no_request_status"):
            body["status"] = txn
            del body["request_status"]
        final = txn not in ("pending",)
        body["provider_transaction_id"] = (
            f"{'MP' if req.provider().startswith('mtn') else 'AT'}{req.internal_reference[:10]}"
            if final
            else None
        )
        body["completed_at"] = datetime.now(UTC).isoformat(timespec="seconds") if final else None
        return body

    def validate_number(self, body) -> tuple[int, dict]:
        msisdn = body.get("msisdn") if isinstance(body, dict) else None
        if not isinstance(msisdn, str) or not MSISDN_RE.match(msisdn):
            return 422, _error("msisdn must look like +256XXXXXXXXX.", "INVALID_PARAMETERS")
        if provider_of(msisdn) != "airtel_money" and not self.switches.get("validate_mtn"):
            return 422, _error(
                "Only Airtel Uganda phone numbers are supported for validation.",
                "INVALID_PARAMETERS",
            )
        return 200, {
            "success": True,
            "message": f"Msisdn {msisdn} successfully validated.",
            "customer_name": "SANDBOX CUSTOMER " + msisdn[-4:],
        }

    def balance(self, account_no: str, currency: str) -> tuple[int, dict]:
        if account_no != self.account_no:
            return 403, _error("Invalid account number.", "INVALID_PARAMETERS")
        if currency != "UGX":
            return 422, _error("currency must be UGX.", "INVALID_PARAMETERS")
        with self.lock:
            value = self.float
        shown = str(value) if self.switches.get("balance_as_string") else _json_amount(value)
        return 200, {"success": True, "balance": shown}

    def statement(self, account_no: str) -> tuple[int, dict]:
        if account_no != self.account_no:
            return 403, _error("Invalid account number.", "INVALID_PARAMETERS")
        with self.lock:
            reqs = list(self.requests.values())
            foreign = list(self.foreign)
        rows = []
        for req in reqs[-1000:]:
            event = self._event(req)
            event["request_status"] = event["status"]
            event["transaction_type"] = "collection" if req.kind == "collection" else "payout"
            event["created_at"] = datetime.fromtimestamp(req.created_at, UTC).isoformat()
            rows.append(event)
        return 200, {"success": True, "transactions": rows + foreign}

    def refusal(self) -> tuple[int, dict, dict] | None:
        """A switched-on answer that every API call gets, or None."""
        if self.switches.get("ip_blocked"):
            return 403, _error("No authorized IP address found for this API key."), {}
        if self.switches.get("api_disabled"):
            return 403, _error("API access is disabled for this account.", "API_DISABLED"), {}
        if self.switches.get("account_disabled"):
            return 403, _error("This business account is disabled.", "ACCOUNT_DISABLED"), {}
        if self.switches.get("rate_limited"):
            return 429, _error("Too many requests."), {"Retry-After": "30"}
        return None

    def switch(self, body) -> tuple[int, dict]:
        if not isinstance(body, dict) or any(k not in SWITCHES for k in body):
            return 400, {"error": f"switches: {', '.join(SWITCHES)}"}
        with self.lock:
            for name, value in body.items():
                if name == "float":
                    self.float = DEFAULT_FLOAT if value is None else Decimal(str(value))
                elif value is None or value is False:
                    self.switches.pop(name, None)
                else:
                    self.switches[name] = value
        return 200, {"switches": dict(self.switches), "float": str(self.float)}

    def _accepted(self, req: SandboxRequest) -> dict:
        verb = "Request payment" if req.kind == "collection" else "Send payment"
        return {
            "success": True,
            "message": f"{verb} in progress.",
            "internal_reference": req.internal_reference,
        }

    def _event(self, req: SandboxRequest) -> dict:
        status = req.status(self.webhook_delay, time.time())
        message = {
            "pending": "Transaction is pending.",
            "success": "Transaction completed successfully.",
        }.get(status, req.scenario.message or "Transaction failed.")
        if status == "success":
            self._settle_float(req)
        return {
            "status": status,
            "message": message,
            "customer_reference": req.reference,
            "internal_reference": req.internal_reference,
            "msisdn": req.msisdn,
            "amount": _json_amount(req.reported_amount()),
            "currency": req.currency,
            "provider": req.provider(),
            # Charged on a completed transaction only.
            "charge": _json_amount(req.charge() if status == "success" else Decimal(0)),
        }

    def _settle_float(self, req: SandboxRequest) -> None:
        # Once per request: a collection adds (less the charge), a payout takes.
        if req.settled:
            return
        req.settled = True
        if req.kind == "collection":
            self.float += req.reported_amount() - req.charge()
        else:
            self.float -= req.amount + req.charge()

    def _validate(self, body: dict) -> tuple[int, dict] | None:
        if not isinstance(body, dict):
            return 400, {"success": False, "message": "Send a JSON object."}
        if body.get("account_no") != self.account_no:
            return 403, {"success": False, "message": "Invalid account number."}
        reference = body.get("reference")
        if not isinstance(reference, str) or not 8 <= len(reference) <= 36:
            return 422, {"success": False, "message": "reference must be 8 to 36 characters."}
        if not isinstance(body.get("msisdn"), str) or not MSISDN_RE.match(body["msisdn"]):
            return 422, {"success": False, "message": "msisdn must look like +256XXXXXXXXX."}
        if body.get("currency") != "UGX":
            return 422, {"success": False, "message": "currency must be UGX for +256 numbers."}
        try:
            amount = Decimal(str(body.get("amount")))
        except InvalidOperation:
            amount = None
        if (
            amount is None
            or isinstance(body.get("amount"), bool)
            or not amount.is_finite()
            or amount != amount.to_integral_value()
            or not MIN_UGX <= amount <= MAX_UGX
        ):
            return 422, {"success": False, "message": "amount must be 500 to 5,000,000 UGX."}
        return None

    def _schedule(self, req: SandboxRequest, delay: float) -> None:
        timer = threading.Timer(delay, self.send_webhook, args=(req.internal_reference,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def send_webhook(self, internal_reference: str) -> int | None:
        """POST the signed webhook now; return the HTTP status our side answered."""
        with self.lock:
            req = self.requests.get(internal_reference)
        if req is None:
            return None
        event = self._event(req)
        fields = {k: event[k] for k in ("customer_reference", "internal_reference", "status")}
        header = signature_header(key=self.webhook_secret, url=self.webhook_url, fields=fields)
        request = urllib.request.Request(  # noqa: S310 - URL is our own configuration
            self.webhook_url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "Relworx-Signature": header},
            method="POST",
        )
        error = ""
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=10, context=self.webhook_context
            ) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            status, error = None, repr(exc)[:300]
        with self.lock:
            req.webhooks_sent += 1
            self.deliveries.append(
                {
                    "internal_reference": internal_reference,
                    "status": event["status"],
                    "http_status": status,
                    "error": error,  # why nothing answered (status None)
                }
            )
        return status

    def describe(self) -> dict:
        return {
            "test_numbers": {n: asdict(s) for n, s in SCENARIOS.items()},
            "default": "any other valid number succeeds with one webhook",
            "switches": SWITCHES,
            "switched_on": dict(self.switches),
            "float": str(self.float),
            "webhook_url": self.webhook_url,
            "webhook_delay_seconds": self.webhook_delay,
        }

    def listing(self) -> list[dict]:
        with self.lock:
            reqs = list(self.requests.values())
        now = time.time()
        return [
            {
                "kind": r.kind,
                "reference": r.reference,
                "internal_reference": r.internal_reference,
                "msisdn": r.msisdn,
                "amount": str(r.amount),
                "currency": r.currency,
                "status": r.status(self.webhook_delay, now),
                "webhooks_sent": r.webhooks_sent,
            }
            for r in reqs
        ]


def _handler_for(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "RelworxSandbox/1.0"

        def log_message(self, format, *args):
            pass  # quiet: tests and `make run` would drown in access lines

        def _send(self, status: int, body, headers: dict | None = None) -> None:
            if self.path.startswith("/api/"):
                with sandbox.lock:
                    sandbox.hits.append((self.command, urlsplit(self.path).path, status))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            latency = sandbox.switches.get("latency")
            if latency:
                time.sleep(float(latency))  # a slow network or a slow Relworx
            if self.headers.get("Authorization") != f"Bearer {sandbox.api_key}":
                self._send(401, _error("Invalid API key."))
                return False
            if self.headers.get("Accept") != ACCEPT:
                self._send(406, _error(f"Send Accept: {ACCEPT}."))
                return False
            refusal = sandbox.refusal()
            if refusal:
                self._send(*refusal)
                return False
            return True

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                return ValueError

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/api/mobile-money/check-request-status":
                if not self._authorised():
                    return
                query = parse_qs(url.query)
                status, body = sandbox.status_of(
                    query.get("internal_reference", [""])[0], query.get("account_no", [""])[0]
                )
                self._send(status, body)
            elif url.path == "/api/mobile-money/check-wallet-balance":
                if self._authorised():
                    query = parse_qs(url.query)
                    self._send(
                        *sandbox.balance(
                            query.get("account_no", [""])[0], query.get("currency", [""])[0]
                        )
                    )
            elif url.path == "/api/payment-requests/transactions":
                if self._authorised():
                    self._send(*sandbox.statement(parse_qs(url.query).get("account_no", [""])[0]))
            elif url.path.rstrip("/") == "/sandbox":
                self._send(200, sandbox.describe())
            elif url.path == "/sandbox/requests":
                self._send(200, sandbox.listing())
            else:
                self._send(404, {"success": False, "message": "Not found."})

        def do_POST(self):
            url = urlsplit(self.path)
            kinds = {
                "/api/mobile-money/request-payment": "collection",
                "/api/mobile-money/send-payment": "payout",
            }
            api = url.path in kinds or url.path in (
                "/api/mobile-money/validate",
                "/api/mobile-money/check-wallet-balance",
            )
            if api and not self._authorised():
                return
            body = self._body()
            if body is ValueError:
                self._send(400, _error("Malformed JSON.", "INVALID_PARAMETERS"))
                return
            if url.path in kinds:
                self._send(*sandbox.create(kinds[url.path], body))
                return
            if url.path == "/api/mobile-money/validate":
                self._send(*sandbox.validate_number(body))
                return
            if url.path == "/api/mobile-money/check-wallet-balance":
                body = body if isinstance(body, dict) else {}
                query = parse_qs(url.query)
                self._send(
                    *sandbox.balance(
                        str(body.get("account_no") or query.get("account_no", [""])[0]),
                        str(body.get("currency") or query.get("currency", [""])[0]),
                    )
                )
                return
            if url.path == "/sandbox/switches":
                self._send(*sandbox.switch(body))
                return
            if url.path == "/sandbox/transactions" and isinstance(body, dict):
                with sandbox.lock:
                    sandbox.foreign.append(body)
                self._send(200, {"added": body})
                return
            match = re.fullmatch(r"/sandbox/requests/([0-9a-f]+)/webhook", url.path)
            if match:
                result = sandbox.send_webhook(match.group(1))
                self._send(200 if result is not None else 404, {"delivered_status": result})
                return
            self._send(404, {"success": False, "message": "Not found."})

    return Handler

"""Relworx mobile-money API v2 client, over httpx.

Paths, headers and fields are the real API's:
``POST /mobile-money/request-payment`` (collect from a phone, for buys),
``POST /mobile-money/send-payment`` (pay out to a phone, for sells), both with
``{account_no, reference, msisdn, currency, amount, description}`` →
``{success, message, internal_reference}``, and
``GET /mobile-money/check-request-status?internal_reference=…&account_no=…``,
whose answer carries both ``status`` and ``request_status``: clients in the
wild read ``request_status`` for the transaction and ``status`` for the call,
so the transaction's status is ``request_status``, else ``status``; anything
but pending/success/failed is passed on as it came, for the caller to flag.
Also ``POST /mobile-money/validate`` (the holder's name; the docs say only
Airtel numbers can be validated), ``GET /mobile-money/check-wallet-balance``
(our float; the docs' heading says POST, their example GET: GET is used) and
``GET /payment-requests/transactions`` (last 30 days, up to 1,000).

Errors are HTTP codes, often with ``{"success": false, "message", "error_code"}``:
401/403 (bad key, IP not allowed, account or API disabled) raise
``RelworxRefused`` — our configuration, never the customer's failure; 429
raises ``RelworxThrottled``; other 4xx ``RelworxRejected``. Numbers are read
from JSON as Decimal, never through float.

Retries: only where the request may not have been acted on — timeouts,
connection errors and 5xx — a bounded number of times, with the SAME reference,
so Relworx (and the sandbox) answer a repeat with the original outcome instead
of charging twice. A 4xx is never retried. A 4xx that follows a timeout/5xx is
ambiguous (the first attempt may have gone through) and is raised as
``RelworxUnavailable``, never as a clean rejection: callers must then find out
by polling, not mark the payment failed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import structlog
from django.conf import settings

from payments.relworx_metrics import MeteredTransport

log = structlog.get_logger(__name__)

ACCEPT = "application/vnd.relworx.v2"
REQUEST_PAYMENT = "/mobile-money/request-payment"
SEND_PAYMENT = "/mobile-money/send-payment"
CHECK_STATUS = "/mobile-money/check-request-status"
VALIDATE = "/mobile-money/validate"
WALLET_BALANCE = "/mobile-money/check-wallet-balance"
TRANSACTIONS = "/payment-requests/transactions"

# Relworx statuses, as sent in webhooks and check-request-status.
STATUS_PENDING = "pending"
STATUS_SUCCESS = "success"
STATUS_FAILED = "failed"


class RelworxError(Exception):
    """Base class. ``status_code`` is the HTTP status when there was a response,
    ``error_code`` Relworx's own (``API_DISABLED``, ``INVALID_PARAMETERS``, ...)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        may_have_reached: bool = True,
    ):
        self.message = message
        self.status_code = status_code
        self.body = body
        self.error_code = str(body.get("error_code") or "") if isinstance(body, dict) else ""
        # False only when no attempt of this call can have reached Relworx
        # (every attempt was refused at connect).
        self.may_have_reached = may_have_reached
        super().__init__(message)


class RelworxUnavailable(RelworxError):
    """Timeouts, network errors, 5xx (after the retries), or an ambiguous answer.
    The request may or may not have been acted on: find out, do not assume."""


class RelworxRejected(RelworxError):
    """A clean 4xx (or ``success: false``) on the first contact of this call.
    Whether anything happened also depends on earlier calls with the same
    reference (a resend after a timeout): the caller decides."""


class RelworxRefused(RelworxError):
    """401/403: our API key, our IP, our account or API access is refused.
    Our configuration, not the customer's failure: nothing was done."""


class RelworxThrottled(RelworxError):
    """429: too many requests. Nothing was done; try again later."""


class RelworxBadResponse(RelworxUnavailable):
    """A 2xx we cannot read (not JSON, fields missing)."""


@dataclass(frozen=True)
class PaymentAccepted:
    success: bool
    message: str
    internal_reference: str
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RequestStatus:
    status: str  # pending | success | failed, or whatever unknown value came
    message: str
    customer_reference: str
    internal_reference: str
    amount: Decimal | None
    currency: str
    charge: Decimal | None = None
    provider: str = ""
    provider_transaction_id: str = ""
    completed_at: str = ""
    raw: dict = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.status in (STATUS_PENDING, STATUS_SUCCESS, STATUS_FAILED)


def transaction_status(body: dict) -> str:
    """The transaction's status in a Relworx record: ``request_status``, else
    ``status`` (lower-cased; "" when neither is there)."""
    value = body.get("request_status")
    if value is None or value == "":
        value = body.get("status")
    return str(value or "").strip().lower()


def request_status_from(body: dict, internal_reference: str = "") -> RequestStatus:
    return RequestStatus(
        status=transaction_status(body),
        message=str(body.get("message") or ""),
        customer_reference=str(body.get("customer_reference") or ""),
        internal_reference=str(body.get("internal_reference") or internal_reference),
        amount=parse_amount(body.get("amount")),
        currency=str(body.get("currency") or ""),
        charge=parse_amount(body.get("charge")),
        provider=str(body.get("provider") or ""),
        provider_transaction_id=str(body.get("provider_transaction_id") or ""),
        completed_at=str(body.get("completed_at") or ""),
        raw=body,
    )


def _amount_json(amount: Decimal) -> int:
    # Mobile money is UGX only (no minor unit): an integral amount is
    # sent as a JSON integer, never through float.
    if not isinstance(amount, Decimal) or amount != amount.to_integral_value():
        raise ValueError(f"Relworx amounts must be whole UGX Decimals, got {amount!r}")
    return int(amount)


def parse_amount(value: Any) -> Decimal | None:
    """A Relworx amount (JSON number or string) as Decimal, never via float."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class RelworxClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        account_no: str,
        timeout: float = 15.0,
        max_attempts: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.account_no = account_no
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Authorization": f"Bearer {api_key}", "Accept": ACCEPT},
            transport=MeteredTransport(transport or httpx.HTTPTransport()),
        )

    @classmethod
    def from_settings(cls) -> RelworxClient:
        return cls(
            base_url=settings.RELWORX_BASE_URL,
            api_key=settings.RELWORX_API_KEY,
            account_no=settings.RELWORX_ACCOUNT_NO,
            timeout=settings.RELWORX_TIMEOUT_SECONDS,
            max_attempts=settings.RELWORX_MAX_ATTEMPTS,
            backoff=settings.RELWORX_RETRY_BACKOFF_SECONDS,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RelworxClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- operations -------------------------------------------------------
    def request_payment(
        self, *, reference: str, msisdn: str, amount: Decimal, currency: str, description: str
    ) -> PaymentAccepted:
        """Ask the phone's owner to approve a payment to us (a collection)."""
        return self._payment(REQUEST_PAYMENT, reference, msisdn, amount, currency, description)

    def send_payment(
        self, *, reference: str, msisdn: str, amount: Decimal, currency: str, description: str
    ) -> PaymentAccepted:
        """Pay ``amount`` out to the phone (a payout)."""
        return self._payment(SEND_PAYMENT, reference, msisdn, amount, currency, description)

    def check_request_status(self, *, internal_reference: str) -> RequestStatus:
        """The transaction's status (``request_status``, else ``status``). An
        unknown value is returned as it came (``known`` False): flag it."""
        body = self._call(
            "GET",
            CHECK_STATUS,
            params={"internal_reference": internal_reference, "account_no": self.account_no},
        )
        return request_status_from(body, internal_reference)

    def validate(self, *, msisdn: str) -> str:
        """The registered holder's name of a mobile-money number ("" if none given)."""
        body = self._call("POST", VALIDATE, json={"msisdn": msisdn})
        return str(body.get("customer_name") or "").strip()

    def wallet_balance(self, *, currency: str) -> Decimal:
        """Our float on the Relworx mobile-money wallet in ``currency``."""
        body = self._call(
            "GET", WALLET_BALANCE, params={"account_no": self.account_no, "currency": currency}
        )
        balance = parse_amount(body.get("balance"))
        if balance is None or not balance.is_finite():
            raise RelworxBadResponse("Relworx gave no wallet balance.", body=body)
        return balance

    def transactions(self) -> list[RequestStatus]:
        """The account's transactions of the last 30 days (up to 1,000)."""
        body = self._call("GET", TRANSACTIONS, params={"account_no": self.account_no})
        rows = body.get("transactions")
        if not isinstance(rows, list):
            raise RelworxBadResponse("Relworx gave no transaction list.", body=body)
        return [request_status_from(row) for row in rows if isinstance(row, dict)]

    # --- plumbing -----------------------------------------------------------
    def _payment(
        self,
        path: str,
        reference: str,
        msisdn: str,
        amount: Decimal,
        currency: str,
        description: str,
    ) -> PaymentAccepted:
        if not 8 <= len(reference) <= 36:
            raise ValueError("Relworx references are 8 to 36 characters long.")
        body = self._call(
            "POST",
            path,
            json={
                "account_no": self.account_no,
                "reference": reference,
                "msisdn": msisdn,
                "currency": currency,
                "amount": _amount_json(amount),
                "description": description[:255],
            },
        )
        internal = body.get("internal_reference")
        if not body.get("success") or not internal:
            raise RelworxBadResponse("Relworx accepted without an internal_reference.", body=body)
        return PaymentAccepted(
            success=True,
            message=str(body.get("message", "")),
            internal_reference=str(internal),
            raw=body,
        )

    def _call(self, method: str, path: str, **kwargs) -> dict:
        ambiguous = False  # an earlier attempt may have reached Relworx
        reached = False  # some attempt got past the connect
        last: RelworxError | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                time.sleep(self.backoff * 2 ** (attempt - 2))
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.ConnectTimeout:
                last = RelworxUnavailable("Relworx timed out connecting.", may_have_reached=reached)
                log.warning("relworx.connect_timeout", path=path, attempt=attempt)
                continue
            except httpx.TimeoutException as exc:
                ambiguous = reached = True
                last = RelworxUnavailable(f"Relworx timed out: {exc.__class__.__name__}")
                log.warning("relworx.timeout", path=path, attempt=attempt)
                continue
            except httpx.TransportError as exc:
                # A refused connection never reached Relworx; other transport
                # errors (reset mid-request) may have.
                if not isinstance(exc, httpx.ConnectError):
                    ambiguous = reached = True
                last = RelworxUnavailable(
                    f"Relworx unreachable: {exc.__class__.__name__}", may_have_reached=reached
                )
                log.warning("relworx.unreachable", path=path, attempt=attempt, error=str(exc))
                continue
            body = self._json(response)
            reached = True
            if response.status_code >= 500:
                ambiguous = True
                last = RelworxUnavailable(
                    f"Relworx error {response.status_code}: {_message(body)}",
                    status_code=response.status_code,
                    body=body,
                )
                log.warning(
                    "relworx.server_error", path=path, attempt=attempt, status=response.status_code
                )
                continue
            if response.status_code >= 400 or (
                isinstance(body, dict) and body.get("success") is False
            ):
                message = _message(body) or f"HTTP {response.status_code}"
                log.warning(
                    "relworx.rejected",
                    path=path,
                    status=response.status_code,
                    message=message,
                    ambiguous=ambiguous,
                )
                if response.status_code in (401, 403):
                    cls = RelworxRefused
                elif response.status_code == 429:
                    cls = RelworxThrottled
                elif ambiguous:
                    raise RelworxUnavailable(
                        f"Relworx refused a retry ({message}); the first attempt may have "
                        "been accepted.",
                        status_code=response.status_code,
                        body=body,
                    )
                else:
                    cls = RelworxRejected
                error = cls(message, status_code=response.status_code, body=body)
                if ambiguous and cls is not RelworxRejected:
                    # Refused or throttled now; an earlier attempt may still have gone through.
                    raise RelworxUnavailable(
                        f"{message} (after an attempt that may have been accepted)",
                        status_code=response.status_code,
                        body=body,
                    )
                raise error
            if not isinstance(body, dict):
                raise RelworxBadResponse(
                    "Relworx answered with something other than JSON.",
                    status_code=response.status_code,
                )
            return body
        assert last is not None  # noqa: S101 - the loop ran at least once
        raise last

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            # parse_float=Decimal: amounts, charges and balances never pass through a float.
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            return None


def _message(body: Any) -> str:
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or "")
        code = body.get("error_code")
        return f"{message} [{code}]" if code else message
    return ""

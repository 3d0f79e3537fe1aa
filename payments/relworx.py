"""Relworx mobile-money API v2 client (DESIGN 7), over httpx.

Paths, headers and fields are the real API's:
``POST /mobile-money/request-payment`` (collect from a phone, for buys),
``POST /mobile-money/send-payment`` (pay out to a phone, for sells), both with
``{account_no, reference, msisdn, currency, amount, description}`` →
``{success, message, internal_reference}``, and
``GET /mobile-money/check-request-status?internal_reference=…&account_no=…``.

Retries: only where the request may not have been acted on — timeouts,
connection errors and 5xx — a bounded number of times, with the SAME reference,
so Relworx (and the sandbox) answer a repeat with the original outcome instead
of charging twice. A 4xx is never retried. A 4xx that follows a timeout/5xx is
ambiguous (the first attempt may have gone through) and is raised as
``RelworxUnavailable``, never as a clean rejection: callers must then find out
by polling, not mark the payment failed.
"""

from __future__ import annotations

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

# Relworx statuses, as sent in webhooks and check-request-status.
STATUS_PENDING = "pending"
STATUS_SUCCESS = "success"
STATUS_FAILED = "failed"


class RelworxError(Exception):
    """Base class. ``status_code`` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None):
        self.message = message
        self.status_code = status_code
        self.body = body
        super().__init__(message)


class RelworxUnavailable(RelworxError):
    """Timeouts, network errors, 5xx (after the retries), or an ambiguous answer.
    The request may or may not have been acted on: find out, do not assume."""


class RelworxRejected(RelworxError):
    """A clean 4xx (or ``success: false``) on the first contact: nothing happened."""


class RelworxAuthError(RelworxRejected):
    """401/403: our API key or account is wrong. A configuration problem."""


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
    status: str  # pending | success | failed
    message: str
    customer_reference: str
    internal_reference: str
    amount: Decimal | None
    currency: str
    raw: dict = field(default_factory=dict)


def _amount_json(amount: Decimal) -> int:
    # Mobile money is UGX only (no minor unit, DESIGN 3): an integral amount is
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
        body = self._call(
            "GET",
            CHECK_STATUS,
            params={"internal_reference": internal_reference, "account_no": self.account_no},
        )
        status = str(body.get("status", "")).lower()
        if status not in (STATUS_PENDING, STATUS_SUCCESS, STATUS_FAILED):
            raise RelworxBadResponse(f"Unknown Relworx status {status!r}.", body=body)
        return RequestStatus(
            status=status,
            message=str(body.get("message", "")),
            customer_reference=str(body.get("customer_reference", "")),
            internal_reference=str(body.get("internal_reference", internal_reference)),
            amount=parse_amount(body.get("amount")),
            currency=str(body.get("currency", "")),
            raw=body,
        )

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
        last: RelworxError | None = None
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                time.sleep(self.backoff * 2 ** (attempt - 2))
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                ambiguous = True
                last = RelworxUnavailable(f"Relworx timed out: {exc.__class__.__name__}")
                log.warning("relworx.timeout", path=path, attempt=attempt)
                continue
            except httpx.TransportError as exc:
                # A refused connection never reached Relworx; other transport
                # errors (reset mid-request) may have.
                ambiguous = ambiguous or not isinstance(exc, httpx.ConnectError)
                last = RelworxUnavailable(f"Relworx unreachable: {exc.__class__.__name__}")
                log.warning("relworx.unreachable", path=path, attempt=attempt, error=str(exc))
                continue
            body = self._json(response)
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
                if ambiguous:
                    raise RelworxUnavailable(
                        f"Relworx refused a retry ({message}); the first attempt may have "
                        "been accepted.",
                        status_code=response.status_code,
                        body=body,
                    )
                cls = RelworxAuthError if response.status_code in (401, 403) else RelworxRejected
                raise cls(message, status_code=response.status_code, body=body)
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
            return response.json()
        except ValueError:
            return None


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    return ""

"""Safeguards before money is sent to a phone (Relworx ``send-payment``),
for every kind of payout (a sale's payout today, wallet withdrawals later).

``payout_safeguards_check`` runs, before the first send of a payout:
* ``POST /mobile-money/validate``: the number's registered holder, to store
  and show the user. The docs say only Airtel numbers can be validated, and
  say nothing of what a refusal means otherwise, so a refusal (4xx) is never a
  verdict on the payout: the send-payment answer is.
* ``GET /mobile-money/check-wallet-balance``: our float must cover the amount
  plus ``RELWORX_FLOAT_RESERVE``. When it does not, the payout waits (it is
  not failed), staff are told and payouts show as paused.

Rules for the payout itself (``mobile_money_submit``/``mobile_money_poll``):
once any attempt may have reached Relworx the request is ambiguous until the
status check (or a webhook confirmed by it) decides; only a definite failure
from Relworx refunds (see ``payout_failure_is_definite``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.conf import settings

from payments.relworx import (
    RelworxClient,
    RelworxError,
    RelworxRefused,
    RelworxRejected,
    RelworxThrottled,
)
from payments.services.relworx_health import (
    relworx_low_float_report,
    relworx_refused_report,
    relworx_working_report,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PayoutCheck:
    ok: bool
    waiting_reason: str = ""  # "" | low_float | relworx_refused | relworx_throttled | unavailable
    customer_name: str = ""
    message: str = ""
    balance: Decimal | None = None


def payout_holder_validate(*, client: RelworxClient, msisdn: str) -> str:
    """The registered holder's name, or "" when Relworx does not say (a 4xx:
    unsupported network, unknown number). 401/403, 429 and outages raise."""
    try:
        return client.validate(msisdn=msisdn)
    except RelworxRejected as exc:
        log.info("momo.validate.refused", error=exc.message, error_code=exc.error_code)
        return ""


def payout_float_check(
    *, client: RelworxClient, amount: Decimal, currency: str
) -> tuple[bool, Decimal]:
    """(float covers amount + RELWORX_FLOAT_RESERVE, the float)."""
    balance = client.wallet_balance(currency=currency)
    return balance >= amount + settings.RELWORX_FLOAT_RESERVE, balance


def payout_safeguards_check(
    *, client: RelworxClient, msisdn: str, amount: Decimal, currency: str
) -> PayoutCheck:
    """Validate the number and check the float; never raises for Relworx's answers."""
    try:
        name = payout_holder_validate(client=client, msisdn=msisdn)
        enough, balance = payout_float_check(client=client, amount=amount, currency=currency)
    except RelworxRefused as exc:
        relworx_refused_report(detail=f"HTTP {exc.status_code}: {exc.message}")
        return PayoutCheck(False, "relworx_refused", message=exc.message)
    except RelworxThrottled as exc:
        return PayoutCheck(False, "relworx_throttled", message=exc.message)
    except RelworxError as exc:
        return PayoutCheck(False, "unavailable", message=exc.message)
    if not enough:
        relworx_low_float_report(
            balance=balance, needed=amount + settings.RELWORX_FLOAT_RESERVE, currency=currency
        )
        return PayoutCheck(False, "low_float", name, "Not enough float on Relworx.", balance)
    relworx_working_report(float_ok=True)
    return PayoutCheck(True, customer_name=name, balance=balance)


def payout_failure_is_definite(*, maybe_sent_before: bool, error: RelworxError) -> bool:
    """Whether a refusal of a send means the payout failed (and may be refunded):
    only a clean refusal (RelworxRejected) of a request no earlier attempt can
    have delivered. 401/403/429 are ours to fix or wait out; a refusal of a
    resend ("duplicate reference" or anything else) leaves the request
    ambiguous until the status check decides."""
    return isinstance(error, RelworxRejected) and not maybe_sent_before


def payout_refusal_is_low_float(error: RelworxError) -> bool:
    """A send-payment refused for want of balance: our float, not the customer's
    failure (the payout waits for a top-up)."""
    return "INSUFFICIENT" in error.error_code.upper() or "insufficient" in error.message.lower()

"""Whether mobile money works right now, and telling staff when it does not.

Relworx refusing our key or our IP (401/403) stops every request; a float too
low for a payout stops payouts. Both are ours to fix, not the customer's
failure: the payments wait, staff are told (one email per problem per
``RELWORX_ALERT_EVERY_SECONDS``), and ``/api/trading/payment-methods`` and the
site say mobile money (or its payouts) is unavailable, in words a customer
understands, until a later call works again. The state lives in the shared
cache, so every process sees it.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from notifications.services import outbox_emit

log = structlog.get_logger(__name__)

STATE_KEY = "payments:relworx:health:v1"
STATE_TIMEOUT = 7 * 24 * 3600

# What a customer reads (never the technical cause).
REASON_ALL = (
    "Mobile money is temporarily unavailable on our side. Please use another payment "
    "method or try again later."
)
REASON_PAYOUTS = (
    "Mobile money payouts are paused for a short while. You can still sell into your "
    "DT Exchange wallet and withdraw later."
)


def _state() -> dict:
    return cache.get(STATE_KEY) or {}


def relworx_availability() -> dict:
    """``{"collections": bool, "payouts": bool, "reason": str | None}`` for
    the customer: what works now and, when something does not, why."""
    state = _state()
    refused = bool(state.get("refused"))
    low_float = bool(state.get("low_float"))
    reason = REASON_ALL if refused else REASON_PAYOUTS if low_float else None
    return {"collections": not refused, "payouts": not (refused or low_float), "reason": reason}


def _set(flag: str, value: str | None) -> bool:
    """Set or clear one problem; True when that changed it."""
    state = _state()
    before = state.get(flag)
    if value:
        state[flag] = {
            "since": (before or {}).get("since") or timezone.now().isoformat(),
            "detail": value,
        }
    else:
        state.pop(flag, None)
    cache.set(STATE_KEY, state, STATE_TIMEOUT)
    return bool(before) != bool(value)


def relworx_refused_report(*, detail: str) -> None:
    """Relworx answered 401/403 (key, IP, account or API disabled)."""
    log.error("relworx.refused", detail=detail)
    _set("refused", detail)
    staff_alert(
        topic="relworx_refused",
        subject="Relworx refuses our requests: mobile money is waiting",
        body=(
            f"Relworx answered: {detail}\n\n"
            "This is our configuration (API key, authorised IP addresses, account or API "
            "access in the Relworx dashboard), not a customer's failure. Mobile-money "
            "payments wait (nothing is failed or refunded) and resume when Relworx accepts "
            "our requests again; customers see mobile money as unavailable meanwhile."
        ),
    )


def relworx_low_float_report(*, balance, needed, currency: str) -> None:
    detail = f"float {balance} {currency}, a payout needs {needed} {currency}"
    log.error("relworx.low_float", detail=detail)
    _set("low_float", detail)
    staff_alert(
        topic="relworx_low_float",
        subject="Relworx float too low: mobile-money payouts are waiting",
        body=(
            f"The Relworx wallet holds {balance} {currency}; a payout needs {needed} "
            f"{currency}.\n\nTop up the Relworx wallet. Waiting payouts are sent as soon as "
            "the float covers them (nothing is failed or refunded); customers see "
            "mobile-money payouts as paused meanwhile."
        ),
    )


def relworx_working_report(*, float_ok: bool = False) -> None:
    """A call was accepted (and, with ``float_ok``, the float covers payouts)."""
    if _set("refused", None):
        log.info("relworx.accepted_again")
    if float_ok and _set("low_float", None):
        log.info("relworx.float_ok_again")


def staff_alert(*, topic: str, subject: str, body: str) -> bool:
    """Email ``STAFF_ALERT_EMAIL`` through the outbox, at most once per topic
    per ``RELWORX_ALERT_EVERY_SECONDS``. Returns True when an email was queued."""
    if not cache.add(f"payments:staff_alert:{topic}", 1, settings.RELWORX_ALERT_EVERY_SECONDS):
        return False
    with transaction.atomic():
        outbox_emit(
            kind="email.staff_alert",
            payload={
                "to": settings.STAFF_ALERT_EMAIL,
                "subject": f"[DT Exchange] {subject}",
                "context": {"topic": topic, "body": body, "title": subject},
            },
        )
    return True

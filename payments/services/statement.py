"""Relworx health check and the daily statement reconciliation (Celery beat).

* ``relworx_health_check``: asks for our float (``check-wallet-balance``).
  A 401/403 marks mobile money unavailable and tells staff; an answer clears
  that; a float that covers the payouts waiting for it clears "payouts
  paused" and sends those payouts on.
* ``relworx_statement_reconcile``: compares ``GET /payment-requests/transactions``
  (last 30 days, up to 1,000) with our payments and records every difference,
  both ways, as a ``StatementDifference`` (and flags our payment where there
  is one): ours missing there, theirs unknown here, final statuses or amounts
  that differ. Safe to run twice: a difference is recorded once.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from payments.models import MobileMoneyPayment, StatementDifference
from payments.relworx import (
    STATUS_FAILED,
    STATUS_SUCCESS,
    RelworxClient,
    RelworxError,
    RelworxRefused,
)
from payments.services.mobile_money import _flag, mobile_money_poll
from payments.services.relworx_health import (
    relworx_refused_report,
    relworx_working_report,
    staff_alert,
)

log = structlog.get_logger(__name__)
Status = MobileMoneyPayment.Status
STATEMENT_DAYS = 30
STATEMENT_MAX_ROWS = 1000
# A request this young may not be on the statement yet.
STATEMENT_GRACE = timedelta(minutes=15)
_FINAL = {STATUS_SUCCESS: Status.SUCCEEDED, STATUS_FAILED: Status.FAILED}


def relworx_health_check(*, client: RelworxClient | None = None) -> dict:
    own = client is None
    client = client or RelworxClient.from_settings()
    try:
        try:
            balance = client.wallet_balance(currency="UGX")
        except RelworxRefused as exc:
            relworx_refused_report(detail=f"HTTP {exc.status_code}: {exc.message}")
            return {"ok": False, "refused": True}
        except RelworxError as exc:
            log.warning("relworx.health.unavailable", error=exc.message)
            return {"ok": False, "refused": False}
        waiting = MobileMoneyPayment.objects.filter(
            status=Status.PENDING, waiting_reason__in=("low_float", "relworx_refused")
        )
        largest = (
            waiting.filter(direction=MobileMoneyPayment.Direction.PAYOUT).aggregate(
                m=Max("amount")
            )["m"]
            or 0
        )
        float_ok = balance >= largest + settings.RELWORX_FLOAT_RESERVE
        relworx_working_report(float_ok=float_ok)
        resumed = 0
        if float_ok:
            for pk in waiting.order_by("pk").values_list("pk", flat=True)[:200]:
                mobile_money_poll(payment_id=pk, client=client)
                resumed += 1
        return {"ok": True, "balance": str(balance), "float_ok": float_ok, "resumed": resumed}
    finally:
        if own:
            client.close()


def _record(kind: str, reference: str, *, payment=None, internal="", details=None) -> bool:
    try:
        with transaction.atomic():
            StatementDifference.objects.create(
                kind=kind,
                reference=reference[:64],
                internal_reference=(internal or "")[:64],
                payment=payment,
                details=details or {},
            )
            if payment is not None:
                locked = MobileMoneyPayment.objects.select_for_update().get(pk=payment.pk)
                _flag(locked, f"statement: {StatementDifference.Kind(kind).label} {details or ''}")
                locked.save(update_fields=["flagged", "flag_reason", "resolved_at", "updated_at"])
    except IntegrityError:
        return False  # known already
    log.warning("relworx.statement.difference", kind=kind, reference=reference)
    return True


def relworx_statement_reconcile(*, client: RelworxClient | None = None) -> dict[str, int]:
    own = client is None
    client = client or RelworxClient.from_settings()
    try:
        rows = client.transactions()
    except RelworxRefused as exc:
        relworx_refused_report(detail=f"HTTP {exc.status_code}: {exc.message}")
        raise
    finally:
        if own:
            client.close()
    now = timezone.now()
    ours = {
        p.reference: p
        for p in MobileMoneyPayment.objects.filter(
            created_at__gte=now - timedelta(days=STATEMENT_DAYS)
        )
    }
    by_internal = {p.internal_reference: p for p in ours.values() if p.internal_reference}
    counts = {k: 0 for k in StatementDifference.Kind.values}
    seen: set[str] = set()
    for row in rows:
        payment = ours.get(row.customer_reference) or by_internal.get(row.internal_reference)
        if payment is None:
            reference = row.customer_reference or row.internal_reference
            details = {
                "status": row.status,
                "amount": str(row.amount),
                "currency": row.currency,
                "provider": row.provider,
            }
            if _record("unknown_here", reference, internal=row.internal_reference, details=details):
                counts["unknown_here"] += 1
            continue
        seen.add(payment.reference)
        theirs = _FINAL.get(row.status)
        if theirs and payment.status != Status.PENDING and theirs != payment.status:
            details = {"ours": payment.status, "theirs": row.status}
            if _record("status_differs", payment.reference, payment=payment, details=details):
                counts["status_differs"] += 1
        if theirs == Status.SUCCEEDED and (
            (row.amount is not None and row.amount != (payment.amount_received or payment.amount))
            or (row.currency and row.currency != payment.currency)
        ):
            details = {
                "ours": f"{payment.amount} {payment.currency}",
                "theirs": f"{row.amount} {row.currency}",
            }
            if _record("amount_differs", payment.reference, payment=payment, details=details):
                counts["amount_differs"] += 1
    if len(rows) < STATEMENT_MAX_ROWS:  # a full page may have cut older rows off
        for reference, payment in ours.items():
            reached = payment.internal_reference or payment.status == Status.SUCCEEDED
            if reference in seen or not reached or payment.created_at > now - STATEMENT_GRACE:
                continue
            details = {"status": payment.status, "amount": f"{payment.amount} {payment.currency}"}
            if _record("missing_there", reference, payment=payment, details=details):
                counts["missing_there"] += 1
    if any(counts.values()):
        staff_alert(
            topic="relworx_statement",
            subject="Relworx statement differs from our payments",
            body="New differences: "
            + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            + ". See Payments → Statement differences in the admin.",
        )
    return counts

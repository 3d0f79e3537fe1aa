"""Celery adapters for payments: they take ids, call one service, are safe to
run twice, and retry a bounded number of times."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from payments.models import MobileMoneyPayment
from payments.relworx import RelworxUnavailable
from payments.services import (
    mobile_money_poll,
    mobile_money_reconcile,
    mobile_money_submit,
    payment_trades_expire,
)

log = structlog.get_logger(__name__)


@shared_task(
    bind=True,
    autoretry_for=(RelworxUnavailable,),
    max_retries=4,
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
)
def mobile_money_submit_task(self, payment_id: int) -> str:
    """Submit one request to Relworx. Idempotent: our reference never changes,
    and an already-acknowledged request is not sent again. When the retries
    run out the payment stays pending; the poller resubmits it later."""
    return mobile_money_submit(payment_id=payment_id)


@shared_task
def mobile_money_poll_task(payment_id: int) -> str:
    return mobile_money_poll(payment_id=payment_id)


@shared_task
def mobile_money_poll_due(limit: int = 200) -> int:
    """Beat: poll pending requests older than RELWORX_POLL_AFTER whose next poll
    is due (each payment backs off on its own), for at most RELWORX_POLL_GIVE_UP."""
    now = timezone.now()
    ids = list(
        MobileMoneyPayment.objects.filter(
            status=MobileMoneyPayment.Status.PENDING,
            flagged=False,
            created_at__lte=now - settings.RELWORX_POLL_AFTER,
            created_at__gte=now - settings.RELWORX_POLL_GIVE_UP,
        )
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .order_by("next_poll_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for payment_id in ids:
        try:
            mobile_money_poll(payment_id=payment_id)
        except Exception:  # one bad row must not stop the others
            log.exception("momo.poll.failed", payment_id=payment_id)
    return len(ids)


@shared_task
def payment_trades_expire_task() -> int:
    """Beat: expire mobile-money/bank-deposit buys with no outcome in time."""
    return len(payment_trades_expire())


@shared_task
def mobile_money_reconcile_task() -> dict:
    """Beat: the reconciliation pass (see mobile_money_reconcile)."""
    return mobile_money_reconcile()


@shared_task
def relworx_health_check_task() -> dict:
    """Beat: is Relworx accepting our key and does the float cover payouts?"""
    from payments.services.statement import relworx_health_check

    return relworx_health_check()


@shared_task(
    autoretry_for=(RelworxUnavailable,), max_retries=3, retry_backoff=300, retry_backoff_max=3600
)
def relworx_statement_reconcile_task() -> dict:
    """Beat, daily: Relworx's transaction list against our payments."""
    from payments.services.statement import relworx_statement_reconcile

    return relworx_statement_reconcile()

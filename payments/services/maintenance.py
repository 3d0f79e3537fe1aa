"""Periodic work (Celery beat): expire trades nobody paid, reconcile payments.

Both are safe to run twice and concurrently: every change goes through a
locked, compare-and-set service.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from payments.models import MobileMoneyPayment
from payments.services.effects import apply_outcome
from payments.services.mobile_money import mobile_money_poll
from trading.models import Trade, TradeStatus, TradeType
from trading.services import trade_expire

log = structlog.get_logger(__name__)

_TTL_SETTINGS = {"mobile_money": "TRADE_PENDING_TTL", "bank_deposit": "BANK_DEPOSIT_TTL"}


def payment_trades_expire(*, limit: int = 500) -> list[int]:
    """Expire pending/processing buys paid by mobile money (after
    TRADE_PENDING_TTL) or bank deposit (after BANK_DEPOSIT_TTL) with no
    outcome. A payment that still succeeds later is credited to the user's
    wallet (see effects), so nothing is lost by expiring."""
    now = timezone.now()
    expired = []
    for method, setting in _TTL_SETTINGS.items():
        ids = list(
            Trade.objects.filter(
                payment_method=method,
                trade_type=TradeType.BUY,
                status__in=(TradeStatus.PENDING, TradeStatus.PROCESSING),
                created_at__lte=now - getattr(settings, setting),
                ledger_transaction__isnull=True,
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        for trade_id in ids:
            if trade_expire(trade_id=trade_id) is not None:
                expired.append(trade_id)
    if expired:
        log.info("payments.trades_expired", count=len(expired))
    return expired


def mobile_money_reconcile(*, limit: int = 500) -> dict[str, int]:
    """The safety net behind webhooks and polling:
    * a decided payment whose effect on its trade is not recorded gets it
      applied (idempotent trading services);
    * pending requests not acknowledged by Relworx are resubmitted with the
      same reference, and all pending ones are polled once more, due or not;
    * a request still pending after RELWORX_POLL_GIVE_UP is flagged for a person.
    """
    counts = {"effects_applied": 0, "polled": 0, "flagged": 0}
    for pk in (
        MobileMoneyPayment.objects.filter(
            status__in=(MobileMoneyPayment.Status.SUCCEEDED, MobileMoneyPayment.Status.FAILED),
            outcome="",
            flagged=False,
        )
        .filter(Q(trade__isnull=False) | Q(top_up__isnull=False))
        .values_list("pk", flat=True)[:limit]
    ):
        with transaction.atomic():
            payment = MobileMoneyPayment.objects.select_for_update().get(pk=pk)
            if payment.outcome:
                continue
            payment.outcome = apply_outcome(payment)
            payment.save(update_fields=["outcome", "updated_at"])
            counts["effects_applied"] += 1
    cutoff = timezone.now() - settings.RELWORX_POLL_GIVE_UP
    pending = MobileMoneyPayment.objects.filter(
        status=MobileMoneyPayment.Status.PENDING, flagged=False
    )
    for pk in pending.filter(created_at__gte=cutoff).values_list("pk", flat=True)[:limit]:
        mobile_money_poll(payment_id=pk)
        counts["polled"] += 1
    counts["flagged"] = pending.filter(created_at__lt=cutoff).update(
        flagged=True, flag_reason="no outcome from Relworx after polling gave up"
    )
    return counts

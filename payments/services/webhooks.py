"""Verified Relworx webhooks: store each event once, then apply it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Q

from payments.models import MobileMoneyPayment, WebhookEvent
from payments.relworx import parse_amount
from payments.services.mobile_money import mobile_money_apply_status, redact

log = structlog.get_logger(__name__)


def _event_key(customer_reference: str, internal_reference: str, status: str) -> str:
    return hashlib.sha256(
        f"{customer_reference}|{internal_reference}|{status}".encode()
    ).hexdigest()


def webhook_receive(*, payload: dict, signed_at: int) -> str:
    """Record and apply one webhook whose signature has been verified.

    The event row and its effect commit together: a repeat of the same event
    (even concurrent — the unique ``event_key`` makes the others wait, then
    fail) returns "duplicate" and changes nothing. Out-of-order events are
    safe because the payment only ever leaves ``pending`` once.
    """
    customer_reference = str(payload.get("customer_reference") or "")
    internal_reference = str(payload.get("internal_reference") or "")
    status = str(payload.get("status") or "").lower()
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = WebhookEvent.objects.create(
                    event_key=_event_key(customer_reference, internal_reference, status),
                    customer_reference=customer_reference,
                    internal_reference=internal_reference,
                    status=status,
                    payload=redact(payload),
                    signed_at=datetime.fromtimestamp(signed_at, tz=UTC),
                )
        except IntegrityError:
            log.info(
                "relworx.webhook.duplicate", internal_reference=internal_reference, status=status
            )
            return "duplicate"
        payment = (
            MobileMoneyPayment.objects.filter(
                Q(reference=customer_reference)
                | Q(internal_reference=internal_reference, internal_reference__gt="")
            )
            .order_by("pk")
            .first()
        )
        if payment is None:
            log.warning(
                "relworx.webhook.unknown_payment",
                customer_reference=customer_reference,
                internal_reference=internal_reference,
            )
            result = "unknown_payment"
        elif customer_reference and payment.reference != customer_reference:
            # Signed, but naming our reference for another payment's request.
            log.error("relworx.webhook.reference_mismatch", payment=payment.pk)
            result = "reference_mismatch"
        else:
            result = mobile_money_apply_status(
                payment_id=payment.pk,
                status=status,
                amount=parse_amount(payload.get("amount")),
                currency=str(payload.get("currency") or ""),
                internal_reference=internal_reference,
                message=str(payload.get("message") or ""),
                raw=payload,
                source="webhook",
            )
        event.payment = payment
        event.result = result
        event.save(update_fields=["payment", "result"])
    return result

"""Verified Relworx webhooks: store each event once, then let the status
check decide.

The signature covers only the references and the status; ``amount``,
``currency`` and ``charge`` are not signed. So a webhook never moves money on
its own: for a pending payment it brings the (signed) internal reference and
queues the poller, whose ``check-request-status`` answer is applied (amount
and currency confirmed there). A webhook about a payment already decided is
compared with that decision: the same is a duplicate, a contradiction is
flagged for a person. A replayed or late-retried webhook is therefore
harmless: it can only cause a status check.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import structlog
from django.db import IntegrityError, transaction
from django.db.models import Q

from payments.models import MobileMoneyPayment, WebhookEvent
from payments.relworx import STATUS_FAILED, STATUS_PENDING, STATUS_SUCCESS
from payments.services.mobile_money import (
    mobile_money_apply_status,
    redact,
    webhook_signed_fields,
)
from payments.signature import SIGNED_FIELDS

log = structlog.get_logger(__name__)


def _event_key(customer_reference: str, internal_reference: str, status: str) -> str:
    return hashlib.sha256(
        f"{customer_reference}|{internal_reference}|{status}".encode()
    ).hexdigest()


def webhook_receive(*, payload: dict, signed_at: int) -> str:
    """Record one webhook whose signature has been verified, and act on it.

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
                    # What arrived, with the fields the signature does not
                    # cover kept apart so nobody reads them as Relworx's word.
                    payload={
                        **webhook_signed_fields(payload),
                        "unsigned": redact(
                            {k: v for k, v in payload.items() if k not in SIGNED_FIELDS}
                        ),
                    },
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
        elif payment.status != MobileMoneyPayment.Status.PENDING:
            # Decided already: only compared (a contradiction is flagged), nothing moves.
            result = mobile_money_apply_status(
                payment_id=payment.pk,
                status=status,
                internal_reference=internal_reference,
                raw=webhook_signed_fields(payload),
                source="webhook",
            )
        else:
            result = _adopt_and_check(payment, internal_reference, status)
        event.payment = payment
        event.result = result
        event.save(update_fields=["payment", "result"])
    return result


def _adopt_and_check(payment: MobileMoneyPayment, internal_reference: str, status: str) -> str:
    locked = MobileMoneyPayment.objects.select_for_update().get(pk=payment.pk)
    if internal_reference and locked.internal_reference not in ("", None, internal_reference):
        # Signed, but another internal reference than the one Relworx gave us: flagged.
        return mobile_money_apply_status(
            payment_id=locked.pk,
            status=status,
            internal_reference=internal_reference,
            source="webhook",
        )
    if internal_reference and not locked.internal_reference:
        # Signed: the request reached Relworx even if its answer never reached us.
        locked.internal_reference = internal_reference
        locked.maybe_sent = True
        locked.save(update_fields=["internal_reference", "maybe_sent", "updated_at"])
    if status == STATUS_PENDING:
        return "pending"
    if status not in (STATUS_SUCCESS, STATUS_FAILED):
        log.warning("relworx.webhook.unknown_status", payment=locked.pk, status=status)
    from payments.tasks import mobile_money_poll_task

    payment_id = locked.pk
    transaction.on_commit(lambda: mobile_money_poll_task.delay(payment_id))
    return "status_check_queued"

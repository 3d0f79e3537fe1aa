"""Email messages built from outbox events (HTML + plain text).

Templates live in templates/email/: ``<name>.html`` (inline CSS, table
layout, extends email/base.html) and ``<name>.txt``. ``email.<name>`` events
from other apps name their own template and carry ``{to, subject?, ...}``.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from notifications import formatting as fmt
from notifications import routing
from notifications.models import OutboxEvent


class PermanentEmailError(Exception):
    """Retrying cannot help (no such template, no recipient)."""


def _trade_context(payload: dict[str, Any]) -> dict[str, Any]:
    crypto, fiat = payload.get("crypto_currency", ""), payload.get("fiat_currency", "")
    fiat_amount = fmt.to_decimal(payload.get("fiat_amount"))
    fee = fmt.to_decimal(payload.get("fee_amount"))
    net = fiat_amount - fee if fiat_amount is not None and fee is not None else None
    context = {
        "trade_type": payload.get("trade_type", ""),
        "status": payload.get("status", ""),
        "reason": payload.get("reason") or "",
        "reference": payload.get("reference") or payload.get("trade_id", ""),
        "crypto_amount": fmt.money(payload.get("crypto_amount"), crypto),
        "fiat_amount": fmt.money(payload.get("fiat_amount"), fiat),
        # buy: what bought the crypto; sell: what the user receives.
        "net_amount": fmt.money(net, fiat) if net is not None else "",
        "fee_amount": fmt.money(payload.get("fee_amount"), fiat),
        "fee_rate": fmt.percent(payload.get("fee_rate")),
        "rate": f"1 {crypto} = {fmt.money(payload.get('exchange_rate'), fiat)}",
        "method": fmt.method_label(payload.get("payment_method", "")),
        "payment_method": payload.get("payment_method", ""),
        "time": fmt.when(payload.get("updated_at") or payload.get("created_at")),
        "crypto_currency": crypto,
        "fiat_currency": fiat,
    }
    fee_label = f"Fee ({context['fee_rate']})" if context["fee_rate"] else "Fee"
    if context["trade_type"] == "sell":
        amounts = [
            ("You sold", context["crypto_amount"]),
            ("Value", context["fiat_amount"]),
            (fee_label, context["fee_amount"]),
            ("You receive", context["net_amount"]),
        ]
    else:
        amounts = [
            ("You pay" if context["status"] != "completed" else "You paid", context["fiat_amount"]),
            (fee_label, context["fee_amount"]),
            (
                "You receive" if context["status"] != "completed" else "You received",
                context["crypto_amount"],
            ),
        ]
    context["rows"] = [
        *amounts,
        ("Rate", context["rate"]),
        ("Payment method", context["method"]),
        ("Reference", context["reference"]),
        ("Time", context["time"]),
    ]
    return context


def _late_payment_context(payload: dict[str, Any]) -> dict[str, Any]:
    currency = payload.get("currency") or payload.get("fiat_currency", "")
    context = {
        "title": payload.get("title", ""),
        "body": payload.get("body", ""),
        "amount": fmt.money(payload.get("amount"), currency) if payload.get("amount") else "",
        "reference": payload.get("reference", ""),
        "method": fmt.method_label(payload.get("payment_method", "mobile_money")),
        "time": fmt.when(payload.get("at") or payload.get("created_at")),
    }
    context["rows"] = [
        ("Amount credited", context["amount"]),
        ("Paid by", context["method"]),
        ("Reference", context["reference"]),
        ("Received", context["time"]),
    ]
    return context


def _top_up_context(payload: dict[str, Any]) -> dict[str, Any]:
    currency = payload.get("currency", "")
    context = {
        "amount": fmt.money(payload.get("net_amount"), currency),
        "received": fmt.money(payload.get("amount_received") or payload.get("amount"), currency),
        "fee_amount": fmt.money(payload.get("fee_amount"), currency),
        "method": fmt.method_label(payload.get("method", "")),
        "reference": payload.get("reference_code") or payload.get("id", ""),
        "time": fmt.when(payload.get("completed_at") or payload.get("updated_at")),
    }
    context["rows"] = [
        ("Added to your wallet", context["amount"]),
        ("You paid", context["received"]),
        ("Fee", context["fee_amount"]),
        ("Paid by", context["method"]),
        ("Reference", context["reference"]),
        ("Time", context["time"]),
    ]
    return context


def _subject(template: str, context: dict[str, Any]) -> str:
    subjects = {
        "buy_completed": "You bought {crypto_amount}",
        "sell_completed": "You sold {crypto_amount}",
        "trade_failed": "Your trade {reference} did not go through",
        "late_payment_credited": "Your late payment of {amount} is in your wallet",
        "top_up_credited": "{amount} was added to your wallet",
    }
    pattern = subjects.get(template)
    if pattern is None:
        return "DT Exchange"
    return pattern.format(**context).replace("  ", " ").strip()


def build(
    *, template: str, to: str, context: dict[str, Any], subject: str = ""
) -> EmailMultiAlternatives:
    context = {
        **context,
        "support_email": settings.SUPPORT_EMAIL,
        "site_url": settings.SITE_URL.rstrip("/"),
    }
    subject = subject or _subject(template, context)
    context.setdefault("subject", subject)
    try:
        text = render_to_string(f"email/{template}.txt", context)
    except TemplateDoesNotExist as exc:
        raise PermanentEmailError(f"no email template {template!r}") from exc
    try:
        html = render_to_string(f"email/{template}.html", context)
    except TemplateDoesNotExist:
        html = None  # a text-only email is still an email
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


def _recipient(event: OutboxEvent) -> str:
    to = event.payload.get("to") if event.kind.startswith(routing.EMAIL_KIND_PREFIX) else None
    if to:
        return str(to)
    if event.user_id is None:
        raise PermanentEmailError("event has neither a recipient nor a user")
    email = (
        get_user_model().objects.filter(pk=event.user_id).values_list("email", flat=True).first()
    )
    if not email:
        raise PermanentEmailError(f"user {event.user_id} has no email address")
    return email


def build_for_event(event: OutboxEvent) -> EmailMultiAlternatives:
    payload = event.payload or {}
    template = routing.email_template(kind=event.kind, user_id=event.user_id, payload=payload)
    if template is None:
        raise PermanentEmailError(f"no email for a {event.kind!r} event")
    if event.kind.startswith(routing.EMAIL_KIND_PREFIX):
        context = payload.get("context")
        if not isinstance(context, dict):
            context = {k: v for k, v in payload.items() if k not in {"to", "subject"}}
    elif template == routing.LATE_PAYMENT_TEMPLATE:
        context = _late_payment_context(payload)
    elif template == routing.TOP_UP_TEMPLATE:
        context = _top_up_context(payload)
    else:
        context = _trade_context(payload)
    return build(
        template=template,
        to=_recipient(event),
        context=context,
        subject=str(payload.get("subject") or ""),
    )

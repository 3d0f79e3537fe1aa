"""The top-up methods payments provides to the fiat wallet (registered in
``PaymentsConfig.ready``): ``mobile_money`` (a Relworx collection, UGX) and
``bank_deposit`` (a transfer with a reference code, reviewed by staff; UGX,
USD). They run through the same machinery as buys: the collection's
outcome (webhook, poll, reconciliation) and the reviewer's decision reach
the top-up in payments/services/effects.py and deposits.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from ledger.money import fmt
from payments.models import MobileMoneyPayment
from payments.phone import PROVIDER_NAMES, Msisdn, msisdn_parse
from wallet.topup_methods import TopUpMethod

PHONE_FIELD = "payment_details.phone_number"


class MobileMoneyTopUp(TopUpMethod):
    code = "mobile_money"
    name = "Mobile money (MTN, Airtel)"
    processing_time = "1-3 minutes"

    def pending_ttl(self) -> timedelta:
        return settings.TRADE_PENDING_TTL

    def availability(self) -> tuple[bool, str | None]:
        from payments.services.relworx_health import relworx_availability

        now = relworx_availability()
        return bool(now["collections"]), now["reason"]

    def clean_details(
        self, *, user, currency: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        raw = details.get("phone_number")
        number = msisdn_parse(value=raw, field=PHONE_FIELD)
        return {"msisdn": number}

    def public_details(self, details: dict[str, Any]) -> dict[str, Any]:
        number: Msisdn = details["msisdn"]
        return {"phone_number": number.masked, "provider": PROVIDER_NAMES[number.provider]}

    def start(self, *, deposit, details: dict[str, Any]) -> dict[str, Any]:
        from payments.services import mobile_money_payment_create

        number: Msisdn = details["msisdn"]
        payment = mobile_money_payment_create(
            direction=MobileMoneyPayment.Direction.COLLECTION,
            user=deposit.user,
            top_up_id=deposit.pk,
            msisdn=number,
            amount=deposit.amount,
            currency=deposit.currency,
        )
        return {
            "message": "Approve the prompt on your phone",
            "detail": f"We asked {PROVIDER_NAMES[payment.provider]} {number.masked} for "
            f"{fmt(payment.amount, payment.currency)}. Enter your PIN on your phone to pay.",
            "payment_reference": payment.reference,
        }


class BankDepositTopUp(TopUpMethod):
    code = "bank_deposit"
    name = "Bank deposit"
    processing_time = "Same business day, after review"

    def pending_ttl(self) -> timedelta:
        return settings.BANK_DEPOSIT_TTL

    def clean_details(
        self, *, user, currency: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def start(self, *, deposit, details: dict[str, Any]) -> dict[str, Any]:
        from payments.services import bank_deposit_create_for_top_up

        bank = bank_deposit_create_for_top_up(deposit=deposit)
        return {
            "message": "Waiting for your transfer",
            "detail": f"Transfer exactly {fmt(bank.expected_amount, bank.currency)} and quote "
            f"the reference {bank.reference_code}. Our team checks the bank statement and "
            "credits your wallet.",
            "reference_code": bank.reference_code,
            "amount": str(bank.expected_amount),
            "currency": bank.currency,
            "bank": dict(settings.BANK_INSTRUCTIONS),
        }

"""The payment methods payments provides to trading (registered in
``PaymentsConfig.ready``): ``mobile_money`` (Relworx; buy and sell) and
``bank_deposit`` (buy, reviewed by staff)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from dtexchange import field_encryption
from dtexchange.errors import Conflict, InvalidInput
from ledger.money import fmt, quantize
from payments.models import MobileMoneyPayment
from payments.phone import PROVIDER_NAMES, Msisdn, msisdn_parse
from trading.payment_methods import PaymentMethod

PHONE_FIELD = "payment_details.phone_number"


def _payout_number_require(*, user, number: Msisdn) -> None:
    """Money leaves to a phone only at the user's confirmed payout numbers
    (409 payout_number_unconfirmed, naming the routes that add and confirm
    one); checked after the number's own format, before anything is written."""
    from wallet.errors import (
        PAYOUT_NUMBER_CONFIRM_ROUTE,
        PAYOUT_NUMBERS_ROUTE,
        PayoutNumberUnconfirmed,
    )
    from wallet.selectors import payout_number_confirmed, payout_number_live

    digest = field_encryption.lookup_hash(number.e164)
    if payout_number_confirmed(user=user, lookup_hash=digest):
        return
    pending = payout_number_live(user=user, lookup_hash=digest)
    details = {
        PHONE_FIELD: ["Confirm this number as a payout number first."],
        "phone_number": number.masked,
        "add_route": f"POST {PAYOUT_NUMBERS_ROUTE}",
        "confirm_route": f"POST {PAYOUT_NUMBER_CONFIRM_ROUTE}",
    }
    if pending is not None:
        details["payout_number_id"] = str(pending.public_id)
    raise PayoutNumberUnconfirmed(details=details)


class MobileMoneyMethod(PaymentMethod):
    code = "mobile_money"
    name = "Mobile money (MTN, Airtel)"
    processing_time = "1-3 minutes"
    providers = ("MTN", "Airtel")
    supports_buy = True
    supports_sell = True
    payout_clearing_kind = "mobile_money_clearing"

    def payout_destinations(self, *, user) -> list[dict[str, str]]:
        from wallet.models import PayoutNumber
        from wallet.selectors import payout_number_list_for_user

        return [
            {
                "id": str(n.public_id),
                "label": f"{n.phone_masked} ({n.holder_name})" if n.holder_name else n.phone_masked,
            }
            for n in payout_number_list_for_user(user=user)
            if n.status == PayoutNumber.Status.CONFIRMED
        ]

    def payout_destination_details(self, *, user, destination_id: str) -> dict | None:
        from wallet.selectors import payout_number_phone_for_user

        phone = payout_number_phone_for_user(user=user, number_id=destination_id)
        return {"phone_number": phone} if phone else None

    def availability(self) -> dict[str, Any]:
        from payments.services.relworx_health import relworx_availability

        now = relworx_availability()
        return {
            "buy": now["collections"],
            "sell": now["payouts"],
            "reason": now["reason"],
        }

    def progress(self, *, trade) -> dict[str, Any]:
        payment = (
            MobileMoneyPayment.objects.filter(trade_id=trade.pk)
            .only("customer_name", "waiting_reason", "direction")
            .order_by("-pk")
            .first()
        )
        if payment is None:
            return {"payee_name": "", "note": ""}
        notes = {
            "low_float": "Your payout is queued and goes out shortly; nothing is lost.",
            "relworx_refused": "Mobile money is briefly unavailable on our side; your payment "
            "is queued and goes ahead when it is back.",
            "relworx_throttled": "Mobile money is busy; we try again in a moment.",
            "ambiguous": "We are confirming with the mobile money network; nothing is lost.",
        }
        return {
            "payee_name": payment.customer_name,
            "note": notes.get(payment.waiting_reason, ""),
        }

    def clean_details(
        self, *, user, trade_type: str, fiat: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        now = self.availability()
        if not now["sell" if trade_type == "sell" else "buy"]:
            # Say so now rather than start a trade that would only wait.
            raise Conflict(
                now["reason"] or "Mobile money is unavailable right now.",
                code="payment_method_unavailable",
                details={"payment_method": [now["reason"] or "Unavailable right now."]},
            )
        if fiat != "UGX":
            raise InvalidInput(
                "Mobile money takes UGX only.",
                code="currency_not_supported",
                details={"fiat_currency": ["Mobile money takes UGX only."]},
            )
        raw = details.get("phone_number") or details.get("msisdn") or details.get("phone")
        number = msisdn_parse(value=raw, field=PHONE_FIELD)
        if trade_type == "sell":
            _payout_number_require(user=user, number=number)
        # Stored on the trade: the number only encrypted, plus what screens show.
        return {
            "provider": number.provider,
            "phone_masked": number.masked,
            "phone_encrypted": field_encryption.encrypt(number.e164),
        }

    @staticmethod
    def _msisdn(details: dict[str, Any]) -> Msisdn:
        return Msisdn(
            e164=field_encryption.decrypt(details["phone_encrypted"]), provider=details["provider"]
        )

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        from payments.services import mobile_money_payment_create

        payment = mobile_money_payment_create(
            direction=MobileMoneyPayment.Direction.COLLECTION,
            user=trade.user,
            trade_id=trade.pk,
            msisdn=self._msisdn(details),
            amount=quantize(trade.fiat_amount, trade.fiat_currency),
            currency=trade.fiat_currency,
        )
        return {
            "message": "Approve the prompt on your phone",
            "detail": f"We asked {PROVIDER_NAMES[payment.provider]} "
            f"{details['phone_masked']} for {fmt(payment.amount, payment.currency)}. "
            "Enter your PIN on your phone to pay.",
            "phone": details["phone_masked"],
            "provider": PROVIDER_NAMES[payment.provider],
            "payment_reference": payment.reference,
        }

    def start_sell(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        from payments.services import mobile_money_payment_create

        net = quantize(trade.fiat_amount - trade.fee_amount, trade.fiat_currency)
        payment = mobile_money_payment_create(
            direction=MobileMoneyPayment.Direction.PAYOUT,
            user=trade.user,
            trade_id=trade.pk,
            msisdn=self._msisdn(details),
            amount=net,
            currency=trade.fiat_currency,
        )
        return {
            "message": "Your payout is on its way",
            "detail": f"{fmt(net, trade.fiat_currency)} to {details['phone_masked']}. "
            "If it fails, the money goes to your wallet.",
            "phone": details["phone_masked"],
            "provider": PROVIDER_NAMES[payment.provider],
            "payment_reference": payment.reference,
        }


class BankDepositMethod(PaymentMethod):
    code = "bank_deposit"
    name = "Bank deposit"
    processing_time = "Same business day, after review"
    supports_buy = True
    supports_sell = False

    def clean_details(
        self, *, user, trade_type: str, fiat: str, amount: Decimal, details: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def start_buy(self, *, trade, details: dict[str, Any]) -> dict[str, Any]:
        from payments.services import bank_deposit_create

        deposit = bank_deposit_create(trade=trade)
        return {
            "message": "Waiting for your payment",
            "detail": f"Transfer exactly {fmt(deposit.expected_amount, deposit.currency)} and "
            f"quote the reference {deposit.reference_code}. Our team checks the bank "
            "statement and completes your purchase.",
            "reference_code": deposit.reference_code,
            "amount": str(deposit.expected_amount),
            "currency": deposit.currency,
            "bank": dict(settings.BANK_INSTRUCTIONS),
        }

"""What payments provides to the wallet (registered in ``PaymentsConfig.ready``):
withdrawals paid out to mobile money through Relworx (the same payout
request, safeguards and outcome handling as a sale's payout), and the
field encryption of personal data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import structlog

from dtexchange import field_encryption
from payments.models import MobileMoneyPayment
from payments.phone import msisdn_parse
from payments.relworx import RelworxClient, RelworxError
from wallet.payouts import PayoutMethod, PhoneNumber, Sealer

log = structlog.get_logger(__name__)


class FieldSealer(Sealer):
    def seal(self, plain: str) -> str:
        return field_encryption.encrypt(plain)

    def unseal(self, token: str) -> str:
        return field_encryption.decrypt(token)

    def lookup_hash(self, value: str) -> str:
        return field_encryption.lookup_hash(value)


class MobileMoneyPayout(PayoutMethod):
    code = "mobile_money"
    currencies = ("UGX",)

    def number_parse(self, *, value: Any, field: str) -> PhoneNumber:
        number = msisdn_parse(value=value, field=field)
        return PhoneNumber(
            e164=number.e164,
            provider=number.provider,
            masked=number.masked,
            lookup_hash=field_encryption.lookup_hash(number.e164),
        )

    def holder_name(self, *, number: PhoneNumber) -> str:
        """Relworx's validate; "" when it does not name the holder (the docs:
        Airtel only) or cannot be asked now: never a verdict on the payout."""
        from payments.services.payouts import payout_holder_validate

        try:
            with RelworxClient.from_settings() as client:
                return payout_holder_validate(client=client, msisdn=number.e164)
        except RelworxError as exc:
            log.info("wallet.validate.unavailable", error=exc.message)
            return ""

    def availability(self) -> dict[str, Any]:
        from payments.services.relworx_health import relworx_availability

        now = relworx_availability()
        return {"available": bool(now["payouts"]), "reason": now["reason"]}

    def payout_start(self, *, user, number: PhoneNumber, amount: Decimal, currency: str) -> str:
        from payments.phone import Msisdn
        from payments.services import mobile_money_payment_create

        payment = mobile_money_payment_create(
            direction=MobileMoneyPayment.Direction.PAYOUT,
            user=user,
            msisdn=Msisdn(e164=number.e164, provider=number.provider),
            amount=amount,
            currency=currency,
        )
        return payment.reference

"""payments' write services, one module per area, re-exported here."""

from payments.services.mobile_money import (
    mobile_money_apply_status,
    mobile_money_payment_create,
    mobile_money_poll,
    mobile_money_submit,
)
from payments.services.webhooks import webhook_receive

__all__ = [
    "mobile_money_apply_status",
    "mobile_money_payment_create",
    "mobile_money_poll",
    "mobile_money_submit",
    "webhook_receive",
]

"""payments' write services, one module per area, re-exported here."""

from payments.services.deposits import (
    bank_deposit_create,
    bank_deposit_create_for_top_up,
    deposit_approve,
    deposit_reject,
)
from payments.services.four_eyes import deposit_approval_propose, flag_credit_propose
from payments.services.maintenance import mobile_money_reconcile, payment_trades_expire
from payments.services.mobile_money import (
    mobile_money_apply_status,
    mobile_money_payment_create,
    mobile_money_poll,
    mobile_money_submit,
)
from payments.services.resolutions import mobile_money_flag_resolve
from payments.services.webhooks import webhook_receive

__all__ = [
    "bank_deposit_create",
    "bank_deposit_create_for_top_up",
    "deposit_approval_propose",
    "deposit_approve",
    "deposit_reject",
    "flag_credit_propose",
    "mobile_money_apply_status",
    "mobile_money_flag_resolve",
    "mobile_money_payment_create",
    "mobile_money_poll",
    "mobile_money_reconcile",
    "mobile_money_submit",
    "payment_trades_expire",
    "webhook_receive",
]

"""wallet's write services, one module per area, re-exported here."""

from wallet.services.bank import (
    withdrawal_bank_pay,
    withdrawal_bank_pay_propose,
    withdrawal_bank_reject,
)
from wallet.services.deposits import (
    TopUpNotSettleable,
    top_up_complete,
    top_up_expire,
    top_up_fail,
    top_up_mark_processing,
    top_up_open,
    top_up_start,
    top_ups_expire,
)
from wallet.services.payout_numbers import (
    payout_number_add,
    payout_number_confirm,
    payout_number_delete,
)
from wallet.services.tiers import tier_request_create, tier_request_decide, tier_set
from wallet.services.withdrawals import (
    withdrawal_cancel,
    withdrawal_confirm,
    withdrawal_create,
    withdrawal_expire,
    withdrawal_open,
    withdrawal_payout_settle,
    withdrawals_expire_due,
)

__all__ = [
    "TopUpNotSettleable",
    "payout_number_add",
    "payout_number_confirm",
    "payout_number_delete",
    "tier_request_create",
    "tier_request_decide",
    "tier_set",
    "top_up_complete",
    "top_up_expire",
    "top_up_fail",
    "top_up_mark_processing",
    "top_up_open",
    "top_up_start",
    "top_ups_expire",
    "withdrawal_bank_pay",
    "withdrawal_bank_pay_propose",
    "withdrawal_bank_reject",
    "withdrawal_cancel",
    "withdrawal_confirm",
    "withdrawal_create",
    "withdrawal_expire",
    "withdrawal_open",
    "withdrawal_payout_settle",
    "withdrawals_expire_due",
]

"""wallet's write services, one module per area, re-exported here."""

from wallet.services.bank import (
    withdrawal_bank_pay,
    withdrawal_bank_pay_propose,
    withdrawal_bank_reject,
)
from wallet.services.payout_numbers import (
    payout_number_add,
    payout_number_confirm,
    payout_number_delete,
)
from wallet.services.withdrawals import (
    withdrawal_cancel,
    withdrawal_confirm,
    withdrawal_create,
    withdrawal_expire,
    withdrawal_payout_settle,
    withdrawals_expire_due,
)

__all__ = [
    "payout_number_add",
    "payout_number_confirm",
    "payout_number_delete",
    "withdrawal_bank_pay",
    "withdrawal_bank_pay_propose",
    "withdrawal_bank_reject",
    "withdrawal_cancel",
    "withdrawal_confirm",
    "withdrawal_create",
    "withdrawal_expire",
    "withdrawal_payout_settle",
    "withdrawals_expire_due",
]

"""Demo vouchers for `make run` (accounts.signals.demo_data_requested).

Codes are stored only hashed, so a newcomer could never see one; here, and
only here, the codes are derived from a fixed public seed, so the same codes
are printed every time. They are public, so they are issued only with DEBUG
on (the embedded default), never on a production site.
"""

from decimal import Decimal

from django.conf import settings

from ledger.money import fmt

DEMO_SEED = "dtexchange-demo-vouchers-v1"
DEMO_SPECS = [("UGX", Decimal("50000"), 3), ("USD", Decimal("25"), 2)]
DEMO_VALIDITY_DAYS = 365


def issue_demo_vouchers(sender, stdout=print, **kwargs) -> None:
    from vouchers.services import voucher_demo_issue

    if not settings.DEBUG:
        stdout("Demo vouchers skipped: DEBUG is off (their codes are public).")
        return
    issued = voucher_demo_issue(
        seed=DEMO_SEED, specs=DEMO_SPECS, expires_in_days=DEMO_VALIDITY_DAYS
    )
    stdout("Demo vouchers (buy with payment method 'voucher'):")
    for voucher, plain, _created in issued:
        stdout(f"  {plain}  {fmt(voucher.amount, voucher.currency):>12}  {voucher.status}")

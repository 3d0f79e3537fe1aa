from celery import shared_task

from vouchers.services import voucher_expire_due


@shared_task(ignore_result=True)
def vouchers_expire_due() -> int:
    """Periodic (beat): mark active vouchers past their date expired. Idempotent."""
    return voucher_expire_due()

"""Celery adapters for the wallet."""

from celery import shared_task

from wallet.emails import confirmation_code_email_send
from wallet.services import top_ups_expire, withdrawals_expire_due


@shared_task(autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=60, max_retries=5)
def confirmation_code_send(*, user_id: int, code: str, purpose: str, object_id: str) -> None:
    """Email a withdrawal's (or payout number's) confirmation code. The code
    travels in the task message, as in the email; the database holds only
    its HMAC. Running twice is one email (an idempotency key per code)."""
    confirmation_code_email_send(user_id=user_id, code=code, purpose=purpose, object_id=object_id)


@shared_task
def withdrawals_expire_task() -> int:
    """Withdrawals not confirmed in time expire and their money goes back (beat)."""
    return withdrawals_expire_due()


@shared_task
def top_ups_expire_task() -> int:
    """Beat: expire top-ups whose money did not come in time."""
    return len(top_ups_expire())

"""Celery adapters for accounts."""

from celery import shared_task

from accounts.codes import email_code_failures_prune
from accounts.emails import verification_code_email_send


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=5,
    retry_backoff_max=60,
    max_retries=5,
)
def verification_code_send(*, user_id: int, code: str) -> None:
    """Email a verification code. The code travels in the task message (as it
    does in the email itself); the database holds only its HMAC. Running twice
    is one email through Resend (an idempotency key per user and code)."""
    verification_code_email_send(user_id=user_id, code=code)


@shared_task
def email_code_failures_prune_task() -> int:
    """Drop the per-address wrong-code counters of past days (beat, hourly)."""
    return email_code_failures_prune()

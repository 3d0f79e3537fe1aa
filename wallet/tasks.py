"""Celery adapters for wallet: they call one service and are safe to run twice."""

from celery import shared_task

from wallet.services import top_ups_expire


@shared_task
def top_ups_expire_task() -> int:
    """Beat: expire top-ups whose money did not come in time."""
    return len(top_ups_expire())

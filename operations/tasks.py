from celery import shared_task

from operations.alerts import alerts_check


@shared_task(name="operations.tasks.alerts_check_task", ignore_result=True)
def alerts_check_task() -> None:
    alerts_check(from_beat=True)

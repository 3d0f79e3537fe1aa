import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtexchange.settings")

app = Celery("dtexchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Metrics (dtexchange/metrics.py) are imported inside the handlers: the
# Prometheus client must first be imported after the settings have set its
# multiprocess folder.


@task_postrun.connect(dispatch_uid="dtexchange.count_task")
def _count_task(sender=None, task=None, state=None, **kwargs):
    from dtexchange.metrics import CELERY_TASKS

    name = getattr(task, "name", None) or str(sender)
    CELERY_TASKS.labels(name, (state or "unknown").lower()).inc()


@worker_ready.connect(dispatch_uid="dtexchange.metrics_port")
def _serve_metrics(sender=None, **kwargs):
    """The worker's counters (all its pool processes) on its own port."""
    from django.conf import settings
    from prometheus_client import start_http_server

    from dtexchange.metrics import metrics_registry

    if settings.CELERY_METRICS_PORT:
        start_http_server(
            settings.CELERY_METRICS_PORT,
            addr=settings.CELERY_METRICS_ADDRESS,
            registry=metrics_registry(with_state=False),
        )


# The request id follows a request into the tasks it queues: it travels as a
# message header and is bound to the task's log lines (dtexchange.logging).


@before_task_publish.connect(dispatch_uid="dtexchange.carry_request_id")
def _carry_request_id(headers=None, **kwargs):
    import structlog

    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


@task_prerun.connect(dispatch_uid="dtexchange.bind_request_id")
def _bind_request_id(task=None, task_id=None, **kwargs):
    import structlog

    request = getattr(task, "request", None)
    request_id = getattr(request, "request_id", None) or (
        (getattr(request, "headers", None) or {}).get("request_id")
    )
    if getattr(request, "is_eager", False):
        return  # run in the caller's own context, which already has its id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=request_id or f"task-{task_id}", task=getattr(task, "name", "")
    )

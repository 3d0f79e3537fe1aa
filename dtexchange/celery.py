import os

from celery import Celery
from celery.signals import task_postrun, worker_ready

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

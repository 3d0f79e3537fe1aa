"""The request id follows a request into the Celery tasks it queues, and
the worker's log lines are JSON with the same fields as the web's."""

import json
import subprocess
import sys
import time

import httpx
import pytest
import structlog

from tests.notifications.daphne_server import free_port
from tests.test_metrics_processes import ROOT, _env, _wait_http

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_task_logs_the_request_id_of_the_request_that_queued_it(tmp_path):
    from dtexchange.celery import app

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dtexchange", "worker", "-l", "info", "-c", "1"],
        cwd=ROOT,
        env=_env(tmp_path, CELERY_METRICS_PORT=str(port), LOG_JSON="true", LOG_LEVEL="INFO"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics", proc)
        structlog.contextvars.bind_contextvars(request_id="req-into-celery-42")
        try:
            app.send_task("notifications.outbox_sweep")
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            if 'task="notifications.outbox_sweep"' in text:
                break
            time.sleep(0.3)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, output[-2000:]
    mine = [line for line in lines if line.get("request_id") == "req-into-celery-42"]
    assert mine, output[-3000:]
    assert all({"timestamp", "level", "logger", "event"} <= set(line) for line in mine)
    assert any(line.get("task") == "notifications.outbox_sweep" for line in mine)

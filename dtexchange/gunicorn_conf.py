"""gunicorn settings for the metrics' multiprocess mode:

    gunicorn -c python:dtexchange.gunicorn_conf -w 4 -b 127.0.0.1:8001 dtexchange.wsgi:application

A worker that exits leaves its counters in the folder (they still count);
its live gauges are dropped here, as the Prometheus client asks.
"""

import os
from pathlib import Path


def _metrics_dir() -> str:
    # The same default as dtexchange.settings (which the master never loads).
    var_dir = os.environ.get("DTX_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(Path(var_dir) / "metrics" / "web")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _metrics_dir())

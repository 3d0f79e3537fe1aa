"""benchmarks/trading_api.py --without-metrics: its settings without the
per-request and per-query metrics (the HTTP middleware and the database
execute wrapper), to measure what they cost. The trade counters (two
increments after each commit) and the cache-read counters stay: they are
plain calls inside the code paths, not something settings can take out."""

from django.db.backends.signals import connection_created

import dtexchange.metrics  # noqa: F401 - connects the query wrapper, undone below
from benchmarks.trading_settings import *  # noqa: F403

MIDDLEWARE = [m for m in MIDDLEWARE if m != "dtexchange.metrics.MetricsMiddleware"]  # noqa: F405
connection_created.disconnect(dispatch_uid="dtexchange.metrics.db")

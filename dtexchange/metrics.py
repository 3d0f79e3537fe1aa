"""Prometheus metrics, and the ``/metrics`` view.

HTTP, database and cache metrics carry django-prometheus' names (so its
dashboards work), counted here: django-prometheus itself (2.5.0, its latest)
declares Django < 6.1 and cannot be installed beside this project's Django.
HTTP by ``MetricsMiddleware`` (first in MIDDLEWARE), queries by a database
execute wrapper on every connection, cache reads by ``dtexchange.cache``.
Then the project's own (``dtx_*``).

Every process runs the Prometheus client in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set in settings before the client is first
imported): each process writes its counters to its own memory-mapped file
and a scrape adds them up, so the figures are right however many gunicorn
workers (or Celery children) counted them. The web processes of a node
(gunicorn, Daphne) share one folder and ``/metrics`` serves it; the Celery
worker has its own folder and serves it on its own port
(``CELERY_METRICS_PORT``, see ``dtexchange.celery``), so nothing is counted
twice when Prometheus scrapes both.

Events are counters in the process where they happen (after the database
commit, so a rolled-back trade is not counted); states are gauges read from
the database (and the price cache) when ``/metrics`` is scraped, so on
several nodes each reports the same number: aggregate those with ``max``,
not ``sum``. Amounts in metrics are floats: they are for charts, never for
money.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.backends.signals import connection_created
from django.http import HttpResponse, HttpResponseNotFound
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

# --- HTTP, database, cache (django-prometheus' names) ------------------------------

HTTP_REQUESTS = Counter("django_http_requests_total_by_method", "Requests by method.", ["method"])
HTTP_RESPONSES = Counter(
    "django_http_responses_total_by_status", "Responses by status code.", ["status"]
)
HTTP_LATENCY = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Time from the first middleware to the response, by view and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_EXCEPTIONS = Counter(
    "django_http_exceptions_total_by_type", "Exceptions raised by views, by type.", ["type"]
)
DB_CONNECTIONS = Counter(
    "django_db_new_connections_total", "Database connections opened.", ["alias", "vendor"]
)
DB_EXECUTE = Counter("django_db_execute_total", "Queries run.", ["alias", "vendor"])
DB_DURATION = Histogram(
    "django_db_query_duration_seconds",
    "Query time.",
    ["alias", "vendor"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
DB_ERRORS = Counter(
    "django_db_errors_total", "Queries that raised, by error type.", ["alias", "vendor", "type"]
)
CACHE_GETS = Counter("django_cache_get_total", "Cache reads.", ["backend"])
CACHE_HITS = Counter("django_cache_get_hits_total", "Cache reads that hit.", ["backend"])
CACHE_MISSES = Counter("django_cache_get_misses_total", "Cache reads that missed.", ["backend"])
CACHE_GET_FAILS = Counter("django_cache_get_fail_total", "Cache reads that failed.", ["backend"])


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        # Any word is a method to Django: unknown ones share one label, so a
        # client cannot grow the metrics without bound.
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method).inc()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "<unnamed view>") if match else "<unresolved>"
        HTTP_LATENCY.labels(view, method).observe(time.perf_counter() - started)
        HTTP_RESPONSES.labels(str(response.status_code)).inc()
        return response

    def process_exception(self, request, exception):
        HTTP_EXCEPTIONS.labels(type(exception).__name__).inc()


def _timed_query(execute, sql, params, many, context):
    connection = context["connection"]
    labels = (connection.alias, connection.vendor)
    DB_EXECUTE.labels(*labels).inc()
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as exc:
        DB_ERRORS.labels(*labels, type(exc).__name__).inc()
        raise
    finally:
        DB_DURATION.labels(*labels).observe(time.perf_counter() - started)


def _instrument_connection(sender, connection, **kwargs):
    """Each new database connection counts and times its queries (Django's
    database instrumentation: an execute wrapper, kept across reconnects)."""
    DB_CONNECTIONS.labels(connection.alias, connection.vendor).inc()
    if _timed_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_timed_query)


connection_created.connect(_instrument_connection, dispatch_uid="dtexchange.metrics.db")


# --- the project's own -----------------------------------------------------------------

TRADES = Counter(
    "dtx_trades_total",
    "Trades reaching a status (pending when created, then where they end).",
    ["trade_type", "payment_method", "status", "crypto_currency"],
)
TRADE_VOLUME = Counter(
    "dtx_trade_volume_total",
    "Fiat amount of completed trades, in units of the fiat currency.",
    ["fiat_currency", "payment_method"],
)
RELWORX_REQUEST_SECONDS = Histogram(
    "dtx_relworx_request_seconds",
    "Relworx API requests (each attempt) by endpoint and outcome.",
    ["endpoint", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
)
CELERY_TASKS = Counter(
    "dtx_celery_tasks_total",
    "Celery tasks run by the worker, by task name and final state.",
    ["task", "state"],
)
WS_CONNECTIONS = Gauge(
    "dtx_ws_connections",
    "Open WebSocket connections (all live Daphne processes of the node).",
    multiprocess_mode="livesum",
)


def trade_changes_count(trade, statuses: list[str]) -> None:
    """Count ``trade`` reaching each of ``statuses`` once the transaction
    commits (a rolled-back change counts nothing)."""
    labels = (trade.trade_type, trade.payment_method, trade.crypto_currency)
    completed_volume = (
        float(trade.fiat_amount) if "completed" in statuses and trade.fiat_amount else None
    )

    def count():
        for status in statuses:
            TRADES.labels(labels[0], labels[1], status, labels[2]).inc()
        if completed_volume is not None:
            TRADE_VOLUME.labels(trade.fiat_currency, trade.payment_method).inc(completed_volume)

    transaction.on_commit(count)


# --- states, read at scrape time ----------------------------------------------------


class StateCollector:
    """Gauges read when scraped: outbox backlog, flagged payments, price age.
    Each is one indexed query (or a cache read)."""

    def collect(self):
        from notifications.selectors import outbox_oldest_pending_at, outbox_pending_counts
        from payments.selectors import flagged_payments_open
        from trading.services.prices import prices_snapshot

        now = time.time()
        pending = GaugeMetricFamily(
            "dtx_outbox_pending",
            "Outbox deliveries waiting to be sent, by destination.",
            labels=["destination"],
        )
        for destination, count in sorted(outbox_pending_counts().items()):
            pending.add_metric([destination], count)
        yield pending
        oldest = outbox_oldest_pending_at()
        yield GaugeMetricFamily(
            "dtx_outbox_oldest_pending_seconds",
            "Age of the oldest outbox event not yet delivered (0 when none).",
            value=max(0.0, now - oldest.timestamp()) if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "dtx_payments_needing_attention",
            "Flagged mobile-money payments no person has resolved yet.",
            value=flagged_payments_open().count(),
        )
        age = GaugeMetricFamily(
            "dtx_price_age_seconds",
            "Age of the cached price of each pair, by its provider's timestamp.",
            labels=["crypto_currency", "fiat_currency"],
        )
        for (crypto, fiat), price in sorted(prices_snapshot().items()):
            age.add_metric([crypto, fiat], max(0.0, price.age_seconds()))
        yield age


def metrics_registry(*, with_state: bool) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    if with_state:
        registry.register(StateCollector())
    return registry


# --- access ---------------------------------------------------------------------------


def _bearer_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and constant_time_compare(header, f"Bearer {token}")


def metrics_access_allowed(request) -> bool:
    """The bearer ``METRICS_TOKEN``, or a client in ``TRUSTED_NETWORKS``."""
    if _bearer_ok(request):
        return True
    from dtexchange.client_ip import request_is_trusted

    return request_is_trusted(request)


@never_cache
def metrics_view(request):
    # Anyone else learns nothing, not even that the page exists.
    if not metrics_access_allowed(request):
        return HttpResponseNotFound(b"", content_type="text/plain")
    body = generate_latest(metrics_registry(with_state=True))
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)

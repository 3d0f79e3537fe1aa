"""trading's Celery tasks: thin adapters over the services."""

import structlog
from celery import shared_task

from trading.services.prices import PriceProviderError, prices_refresh

log = structlog.get_logger(__name__)


@shared_task(ignore_result=True)
def prices_refresh_task() -> int:
    """Beat, every PRICE_REFRESH_SECONDS. A failed fetch is not retried: the
    next tick is seconds away, and the old snapshot goes stale on its own."""
    try:
        return len(prices_refresh())
    except PriceProviderError as exc:
        log.warning("prices_refresh_failed", error=str(exc))
        return 0

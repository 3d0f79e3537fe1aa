"""trading's Celery tasks: thin adapters over the services."""

import structlog
from celery import shared_task

from trading.services.prices import PriceProviderError, prices_refresh
from trading.services.quotes import quotes_purge_expired

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


@shared_task(ignore_result=True)
def quotes_purge_expired_task() -> int:
    """Beat, every QUOTE_PURGE_EVERY_SECONDS: drop expired, unused quotes."""
    return quotes_purge_expired()

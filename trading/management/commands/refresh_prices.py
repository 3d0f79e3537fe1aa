from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trading.services.price_feeds import (
    CoinGeckoFeed,
    coingecko_min_interval,
    crypto_reuse_seconds,
)
from trading.services.prices import (
    PriceProviderError,
    price_provider_get,
    prices_refresh,
    prices_snapshot,
)


class Command(BaseCommand):
    help = (
        "Refresh prices once (as the beat task does) and print each pair, its source and "
        "age: for operators, and to check a deployment's price settings."
    )

    def handle(self, *args, **options):
        try:
            provider = price_provider_get()
            prices_refresh(provider=provider)
        except PriceProviderError as exc:
            raise CommandError(f"Prices could not be refreshed: {exc}") from None
        finally:
            report = getattr(locals().get("provider"), "report", None)
            for line in getattr(report, "lines", []):
                self.stdout.write(f"  {line}")
        now = timezone.now()
        stale = 0
        self.stdout.write(f"Provider: {settings.PRICE_PROVIDER}")
        for (crypto, fiat), price in sorted(prices_snapshot().items()):
            age = int(price.age_seconds(now))
            flag = "STALE" if price.is_stale(now) else "ok"
            stale += price.is_stale(now)
            self.stdout.write(
                f"{crypto}/{fiat}  {format(price.price.normalize(), 'f'):>22}  "
                f"source={price.source}  age={age}s  {flag}"
            )
        if settings.PRICE_PROVIDER == "http":
            every = coingecko_min_interval(
                CoinGeckoFeed(base_url=settings.PRICE_HTTP_URL, timeout=1, retries=0)
            )
            self.stdout.write(
                f"CoinGecko is called at most every {int(every)} s "
                f"(PRICE_HTTP_CALLS_PER_MONTH={settings.PRICE_HTTP_CALLS_PER_MONTH}); its answers "
                f"are used while under {int(crypto_reuse_seconds())} s old (quotes need "
                f"{int(settings.QUOTE_PRICE_MAX_AGE.total_seconds())} s), the fallback "
                "(PRICE_FALLBACK_URL) prices trades the rest of the time."
            )
        if stale:
            raise CommandError(f"{stale} pair(s) are stale.")

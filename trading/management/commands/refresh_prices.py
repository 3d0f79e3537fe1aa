from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from trading.services.price_feeds import coingecko_min_interval
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
            every = coingecko_min_interval()
            max_age = settings.PRICE_MAX_AGE.total_seconds()
            if every >= max_age:
                self.stdout.write(
                    f"Warning: CoinGecko is called every {int(every)} s "
                    f"(PRICE_HTTP_CALLS_PER_MONTH={settings.PRICE_HTTP_CALLS_PER_MONTH}) but "
                    f"prices are stale after {int(max_age)} s (PRICE_MAX_AGE_SECONDS): between "
                    "its calls the fallback (PRICE_FALLBACK_URL) prices the trades."
                )
        if stale:
            raise CommandError(f"{stale} pair(s) are stale.")

"""A quote: the amounts of a possible trade at one price, valid QUOTE_TTL."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ledger.fields import MoneyField
from ledger.money import DECIMAL_PLACES, MAX_DIGITS


def _money(**kwargs) -> MoneyField:
    return MoneyField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)


class Quote(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # None: asked for anonymously (the calculator on the public site); anyone
    # may trade on such a quote, it only fixes a rate for QUOTE_TTL.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quotes",
    )
    trade_type = models.CharField(max_length=4)
    crypto_currency = models.CharField(max_length=8)
    fiat_currency = models.CharField(max_length=8)
    payment_method = models.CharField(max_length=32)
    from_currency = models.CharField(max_length=8, blank=True)  # swaps only
    amount = _money()  # as asked: fiat (buy), crypto (sell), coin spent (swap)
    crypto_amount = _money()
    fiat_amount = _money()
    fee_amount = _money()
    fee_rate = _money()
    exchange_rate = _money()
    details = models.JSONField(default=dict, blank=True)  # swap figures
    price_source = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="quote_expires_idx")]

    def __str__(self) -> str:
        return f"quote {self.id} {self.trade_type} {self.crypto_currency}/{self.fiat_currency}"

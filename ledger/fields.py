"""``MoneyField``: the one column type for amounts of money and rates,
``NUMERIC(38, 18)`` (exact: PostgreSQL adds, sums and compares it without
rounding)."""

from django.db import models

from ledger.money import DECIMAL_PLACES, MAX_DIGITS


class MoneyField(models.DecimalField):
    """A DecimalField(max_digits=38, decimal_places=18)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

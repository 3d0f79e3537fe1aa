"""factory_boy factories shared by the suite. Append yours in your own section."""

from decimal import Decimal

import factory
from django.utils import timezone

# --- accounts ---------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.User"
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password = factory.django.Password("pass-word-2026")
    email_verified_at = factory.LazyFunction(timezone.now)


# --- vouchers ---------------------------------------------------------------


class VoucherFactory(factory.Factory):
    """Issues one voucher through the service (the only way a code exists) and
    returns it with ``plain_code`` set on the instance, for the test only."""

    class Meta:
        model = dict

    amount = Decimal("50000")
    currency = "UGX"
    expires_in_days = 30
    actor = "tests"

    @classmethod
    def _create(cls, model_class, **kwargs):
        from vouchers.services import voucher_batch_create

        [(voucher, plain)] = voucher_batch_create(count=1, **kwargs)
        voucher.plain_code = plain
        return voucher

    _build = _create

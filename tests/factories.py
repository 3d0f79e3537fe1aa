"""factory_boy factories shared by the suite. One section per area; append yours."""

import factory
from django.utils import timezone

from accounts.models import User

# --- accounts ------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password = factory.django.Password("pass-1234-word")
    email_verified_at = factory.LazyFunction(timezone.now)


# --- ledger --------------------------------------------------------------------
# Money enters a wallet the way it does in production: a balanced posting
# (here from the equity account), never by setting a balance.


def fund_wallet(user, currency: str, amount, *, key: str | None = None):
    """Credit ``user``'s wallet with ``amount`` (a Decimal or decimal string)
    from house equity; returns the wallet account."""
    import uuid
    from decimal import Decimal

    from trading.models import AccountKind
    from trading.services.ledger import house_account, ledger_post, wallet_account

    amount = Decimal(str(amount))
    wallet = wallet_account(user=user, currency=currency)
    equity = house_account(kind=AccountKind.EQUITY, currency=currency)
    ledger_post(
        kind="adjustment",
        idempotency_key=key or f"test-fund:{uuid.uuid4()}",
        entries=[(equity, -amount), (wallet, amount)],
        actor="test",
    )
    wallet.refresh_from_db()
    return wallet


# --- vouchers ------------------------------------------------------------------


class VoucherFactory(factory.Factory):
    """Issues one voucher through the service (the only way a code exists) and
    returns it with ``plain_code`` set on the instance, for the test only."""

    class Meta:
        model = dict

    amount = "50000"
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

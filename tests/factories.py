"""factory_boy factories shared by the suite. One section per area; append yours."""

import factory
from django.utils import timezone

from accounts.models import User

# --- accounts ------------------------------------------------------------------
DEFAULT_PASSWORD = "pass-1234-word"


class UserFactory(factory.django.DjangoModelFactory):
    """A verified customer; ``email_verified_at=None`` for an unverified one,
    ``roles=[...]`` for other roles. The password is DEFAULT_PASSWORD."""

    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password(DEFAULT_PASSWORD)
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """``UserFactory(roles=["deposit_reviewer"])``; a customer by default."""
        if not create:
            return
        from django.contrib.auth.models import Group

        from accounts.roles import CUSTOMER, ensure_roles

        ensure_roles()
        for name in extracted if extracted is not None else [CUSTOMER]:
            self.groups.add(Group.objects.get(name=name))


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

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

    from ledger.models import AccountKind
    from ledger.services import house_account, ledger_post, wallet_account

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


# --- trading (prices, trades) ----------------------------------------------------
# Prices come from a real PriceProvider implementation with fixed figures, so
# amounts in tests are exact; the simulated and HTTP providers have their own
# tests.

TEST_PRICES = {
    ("BTC", "USD"): "100000",
    ("BTC", "UGX"): "360000000",
    ("ETH", "USD"): "4000",
    ("ETH", "UGX"): "14400000",
    ("SOL", "USD"): "200",
    ("SOL", "UGX"): "720000",
    ("TRX", "USD"): "0.25",
    ("TRX", "UGX"): "900",
}


class FixedPriceProvider:
    name = "fixed"

    def __init__(self, prices: dict):
        from decimal import Decimal

        self.prices = {pair: Decimal(str(value)) for pair, value in prices.items()}

    def fetch(self, *, previous):
        return dict(self.prices)


def set_prices(overrides: dict | None = None) -> None:
    """Store a fresh price snapshot (TEST_PRICES with ``overrides``)."""
    from trading.services.prices import prices_refresh

    prices_refresh(provider=FixedPriceProvider({**TEST_PRICES, **(overrides or {})}))


TEST_RESERVES = {
    "BTC": "10",
    "ETH": "100",
    "SOL": "10000",
    "TRX": "1000000",
    "USD": "1000000",
    "UGX": "4000000000",
}


def fund_reserves(amounts: dict | None = None) -> None:
    from decimal import Decimal

    from ledger.services import reserve_fund

    for code, amount in (amounts or TEST_RESERVES).items():
        reserve_fund(currency=code, amount=Decimal(str(amount)), actor="test")


def ledger_rows() -> tuple[int, int]:
    """(transactions, entries) in the ledger: "nothing written" is this unchanged."""
    from ledger.models import LedgerEntry, LedgerTransaction

    return LedgerTransaction.objects.count(), LedgerEntry.objects.count()


class ExternalTestMethod:
    """A payment method paid outside (like mobile money): buys stay pending
    until a settlement service is called; sells pay out through the
    mobile-money clearing account. Registered by the ``external_method``
    fixture of tests/trading."""

    @staticmethod
    def build():
        from decimal import Decimal

        from trading.payment_methods import PaymentMethod

        class _External(PaymentMethod):
            code = "test_external"
            name = "External test method"
            processing_time = "Minutes"
            supports_buy = True
            supports_sell = True
            payout_clearing_kind = "mobile_money_clearing"
            started: list = []

            def fee_rate(self):
                return Decimal("0.025")

            def limits(self, fiat):
                return (Decimal("1"), Decimal("10000000")) if fiat in ("USD", "UGX") else None

            def fiat_currencies(self):
                return ("USD", "UGX")

            def start_buy(self, *, trade, details):
                self.started.append(("buy", trade.pk))
                return {"message": "Approve the prompt on your phone"}

            def start_sell(self, *, trade, details):
                self.started.append(("sell", trade.pk))
                return {"message": "Payout on its way"}

        return _External()


# --- wallet --------------------------------------------------------------------


def emailed_code(to: str) -> str:
    """The 6-digit code in the last email sent to ``to``."""
    import re

    from django.core import mail

    for message in reversed(mail.outbox):
        if to in message.to:
            found = re.search(r"^\s+(\d{6})\s*$", message.body, re.MULTILINE)
            if found:
                return found.group(1)
    raise AssertionError(f"no code emailed to {to}")


def confirm_payout_number(user, phone_number: str):
    """Add and confirm ``phone_number`` as ``user``'s payout number the way a
    user does: the service, then the emailed code. Returns the number."""
    from django.test import TestCase

    from wallet.services import payout_number_add, payout_number_confirm

    with TestCase.captureOnCommitCallbacks(execute=True):
        number = payout_number_add(user=user, phone_number=phone_number)
    return payout_number_confirm(
        user=user, number_id=number.public_id, code=emailed_code(user.email)
    )


# --- operations ------------------------------------------------------------------


def make_trade(user, **fields):
    """A trade row as the trading services leave it (no ledger posting: for
    reports and alerts that read trades, not for balances)."""
    from decimal import Decimal

    from trading.models import Trade

    values = {
        "trade_type": "buy",
        "crypto_currency": "BTC",
        "fiat_currency": "UGX",
        "crypto_amount": Decimal("0.001"),
        "fiat_amount": Decimal("100000"),
        "fee_amount": Decimal("1000"),
        "fee_rate": Decimal("0.01"),
        "exchange_rate": Decimal("99000000"),
        "payment_method": "mobile_money",
        "status": "completed",
    }
    values.update(fields)
    if values["status"] == "completed":
        values.setdefault("completed_at", values.get("created_at") or timezone.now())
    return Trade.objects.create(user=user, **values)

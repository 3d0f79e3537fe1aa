import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, VoucherFactory

VALIDATE_URL = "/api/trading/vouchers/validate"


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def voucher(db):
    return VoucherFactory()


def database_text() -> str:
    """Every row of every table in the public schema, as text: to prove a
    plain code was stored nowhere (not just not in the voucher table)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [row[0] for row in cur.fetchall()]
        chunks = []
        for table in tables:
            cur.execute(f"SELECT t::text FROM {table} t")  # noqa: S608 - names from the catalog
            chunks.extend(row[0] for row in cur.fetchall())
    return "\n".join(chunks).upper()


def assert_code_stored_nowhere(plain: str) -> None:
    from vouchers import codes

    body = codes.normalise(plain)
    dump = database_text()
    assert body not in dump
    assert plain.upper() not in dump
    # The first 16 symbols alone would leave ~20 bits to guess: not stored either.
    assert body[:16] not in dump


def house_balance(kind: str, currency: str):
    from decimal import Decimal

    from ledger.models import LedgerAccount

    account = LedgerAccount.objects.filter(owner=None, kind=kind, currency=currency).first()
    return account.balance if account else Decimal(0)


def assert_ledger_reconciles() -> None:
    """``manage.py reconcile_ledger`` passes (it raises CommandError otherwise)."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("reconcile_ledger", stdout=out, stderr=out)
    assert "Ledger OK" in out.getvalue()


@pytest.fixture
def prices(db):
    from tests.factories import set_prices

    set_prices()


@pytest.fixture
def reserves(db):
    from tests.factories import fund_reserves

    fund_reserves()

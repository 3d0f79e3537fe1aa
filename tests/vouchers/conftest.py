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

    from trading.models import LedgerAccount

    account = LedgerAccount.objects.filter(owner=None, kind=kind, currency=currency).first()
    return account.balance if account else Decimal(0)


def assert_ledger_reconciles() -> None:
    from trading.selectors import ledger_reconcile

    report = ledger_reconcile()
    assert report.ok, [p.message for p in report.problems]

"""ledger_post_send: the posting sent in the caller's psycopg pipeline, its
result read once the pipeline has synced; the same outcomes as ledger_post."""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from ledger.errors import InsufficientBalance
from ledger.models import AccountKind, LedgerTransaction
from ledger.services import house_account, ledger_post_send
from tests.factories import UserFactory, fund_wallet

pytestmark = pytest.mark.django_db

D = Decimal


def _send(key: str, amount: str):
    wallet = fund_wallet(UserFactory(), "USD", "5")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    cursor = connection.cursor()
    with connection.connection.pipeline():
        result = ledger_post_send(
            cursor,
            kind="adjustment",
            idempotency_key=key,
            entries=[(wallet, -D(amount)), (reserve, D(amount))],
            actor="test",
        )
    return wallet, result


def test_a_posting_sent_in_a_pipeline_is_read_after_the_sync():
    with transaction.atomic():
        wallet, result = _send("sent-1", "2")
        posted = result()
    assert posted.replayed is False
    assert LedgerTransaction.objects.get(idempotency_key="sent-1").pk == posted.transaction.pk
    wallet.refresh_from_db()
    assert wallet.balance == D("3")


def test_a_refused_posting_raises_when_its_result_is_read_and_writes_nothing():
    with transaction.atomic():
        wallet, result = _send("sent-2", "6")
        with pytest.raises(InsufficientBalance) as refused:
            result()
    assert refused.value.details["available"] == "5.00"
    assert not LedgerTransaction.objects.filter(idempotency_key="sent-2").exists()
    wallet.refresh_from_db()
    assert wallet.balance == D("5")


@pytest.mark.django_db(transaction=True)  # no test transaction around it
def test_it_refuses_to_post_outside_the_callers_transaction():
    wallet = fund_wallet(UserFactory(), "USD", "5")
    reserve = house_account(kind=AccountKind.RESERVE, currency="USD")
    with pytest.raises(RuntimeError, match="atomic"):
        ledger_post_send(
            connection.cursor(),
            kind="adjustment",
            idempotency_key="sent-3",
            entries=[(wallet, D("-1")), (reserve, D("1"))],
        )
    assert not LedgerTransaction.objects.filter(idempotency_key="sent-3").exists()

"""GET /api/wallet/statement: movements and trades in a range of EAT dates,
balances against the ledger's own sums, CSV for a spreadsheet, bad dates."""

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from tests.factories import fund_wallet
from trading.services import trade_buy
from wallet.limits import EAT

pytestmark = pytest.mark.django_db

URL = "/api/wallet/statement"


def today() -> str:
    return datetime.now(tz=EAT).date().isoformat()


def buy(user, amount):
    return trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal(amount),
        payment_method="balance",
    )


def ledger_sum(user, currency, before=None):
    entries = LedgerEntry.objects.filter(
        account__owner=user, account__kind="user_wallet", currency=currency
    )
    if before is not None:
        entries = entries.filter(transaction__created_at__lt=before)
    return entries.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def test_the_json_statement_matches_the_ledger(api, user, market):
    fund_wallet(user, "UGX", "1000000", key="fund-1")
    trade = buy(user, "250000")
    r = api.get(URL, {"from": today(), "to": today()})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["from"], body["to"], body["timezone"]) == (today(), today(), "Africa/Kampala")
    balances = {b["currency"]: b for b in body["balances"]}
    assert balances["UGX"] == {
        "currency": "UGX",
        "opening": "0",
        "credits": "1000000",
        "debits": "250000",
        "closing": "750000",
    }
    for code, row in balances.items():
        account = LedgerAccount.objects.get(owner=user, kind="user_wallet", currency=code)
        assert Decimal(row["closing"]) == account.balance == ledger_sum(user, code)
    assert Decimal(balances["BTC"]["closing"]) == trade.crypto_amount
    ugx = [m for m in body["movements"] if m["currency"] == "UGX"]
    assert [(m["amount"], m["balance"]) for m in ugx] == [
        ("1000000", "1000000"),
        ("-250000", "750000"),
    ]
    assert all(m["date"] == today() for m in body["movements"])
    [row] = body["trades"]
    assert row["id"] == str(trade.public_id) and row["status"] == "completed"
    assert row["fiat_amount"] == "250000"


def test_opening_balances_are_the_ledger_before_the_first_day(api, user, market):
    fund_wallet(user, "UGX", "500000")
    tomorrow = (datetime.now(tz=EAT) + timedelta(days=1)).date().isoformat()
    body = api.get(URL, {"from": tomorrow, "to": tomorrow}).json()
    [ugx] = [b for b in body["balances"] if b["currency"] == "UGX"]
    assert ugx["opening"] == ugx["closing"] == "500000"
    assert (ugx["credits"], ugx["debits"]) == ("0", "0")
    assert body["movements"] == [] and body["trades"] == []
    yesterday = (datetime.now(tz=EAT) - timedelta(days=1)).date().isoformat()
    body = api.get(URL, {"from": yesterday, "to": yesterday}).json()
    [ugx] = [b for b in body["balances"] if b["currency"] == "UGX"]
    assert ugx["opening"] == ugx["closing"] == "0"


def test_the_range_is_east_africa_dates(api, user, market):
    """A posting at 22:30 UTC is already the next day in Kampala (UTC+3)."""
    fund_wallet(user, "UGX", "1000")
    txn = LedgerTransaction.objects.filter(entries__account__owner=user).get()
    local = txn.created_at.astimezone(EAT)
    body = api.get(URL, {"from": local.date().isoformat(), "to": local.date().isoformat()})
    [movement] = body.json()["movements"]
    assert movement["date"] == local.date().isoformat()
    assert movement["time"] == local.strftime("%H:%M:%S")
    before = (local.date() - timedelta(days=1)).isoformat()
    assert api.get(URL, {"from": before, "to": before}).json()["movements"] == []


def test_the_csv_statement_has_a_header_row_and_plain_decimals(api, user, market):
    fund_wallet(user, "UGX", "1234567")
    buy(user, "1000000")
    r = api.get(URL, {"from": today(), "to": today(), "format": "csv"})
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert list(rows[0]) == [
        "date",
        "time",
        "record",
        "currency",
        "amount",
        "balance",
        "kind",
        "status",
        "description",
        "reference",
    ]
    records = [row["record"] for row in rows]
    assert records[0] == "opening_balance" and records[-1] == "closing_balance"
    assert "trade" in records and "movement" in records
    ugx = [row for row in rows if row["currency"] == "UGX" and row["record"] == "movement"]
    assert [row["amount"] for row in ugx] == ["1234567", "-1000000"]
    assert [row["balance"] for row in ugx] == ["1234567", "234567"]
    closing = [r for r in rows if r["record"] == "closing_balance" and r["currency"] == "UGX"]
    assert closing[0]["balance"] == "234567"
    for row in rows:
        assert row["date"] == today()
        for cell in (row["amount"], row["balance"]):
            if cell:
                Decimal(cell)  # a plain decimal a spreadsheet reads as a number
                assert "E" not in cell and "," not in cell


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2026-12-01"},
        {"from": "2026-13-01", "to": "2026-12-01"},
        {"from": "01/12/2026", "to": "2026-12-01"},
        {"from": "2026-12-02", "to": "2026-12-01"},
        {"from": "2024-01-01", "to": "2026-12-01"},
        {"from": "2026-12-01", "to": "2026-12-01", "format": "xml"},
    ],
)
def test_bad_dates_or_format_are_400(api, user, params):
    r = api.get(URL, params)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "invalid_input"


def test_only_signed_in_verified_users_get_a_statement(user):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    assert APIClient().get(URL, {"from": today(), "to": today()}).status_code == 401
    unverified = APIClient()
    unverified.force_authenticate(UserFactory(email_verified_at=None))
    assert unverified.get(URL, {"from": today(), "to": today()}).status_code == 403


def test_a_statement_shows_only_its_owners_money(api, user, market):
    from tests.factories import UserFactory

    other = UserFactory()
    fund_wallet(other, "UGX", "999")
    body = api.get(URL, {"from": today(), "to": today()}).json()
    assert body["balances"] == [] and body["movements"] == []

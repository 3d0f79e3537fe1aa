"""Money stays exact on the embedded default profile (SQLite, `make run`).

Runs the real thing in subprocesses with no DATABASE_URL: `manage.py migrate`
on a fresh SQLite file in a temp DTX_VAR_DIR, a script that trades through
the trading services, then `manage.py reconcile_ledger`. Before MoneyField,
SQLite stored the amounts as REALs (15 significant digits): the 18-decimal
ETH balance came back wrong and the reconciliation found BTC sums like -5e-17.
"""

import json
import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Context
from decimal import Decimal as D
from pathlib import Path

import pytest

EXACT_38 = Context(prec=40, rounding=ROUND_HALF_UP)
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
from decimal import ROUND_HALF_UP, Context
from decimal import Decimal as D

import django

django.setup()

from django.db import IntegrityError, connection, transaction

from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices
from ledger.models import AccountKind, LedgerAccount
from trading.models import Trade
from trading.services import trades
from ledger.services import house_account

assert connection.vendor == "sqlite", connection.vendor
set_prices({("ETH", "USD"): "3000", ("BTC", "USD"): "97000"})
fund_reserves({"ETH": "100.000000000000000001", "BTC": "3.00000001", "USD": "100000"})
user = UserFactory()
fund_wallet(user, "USD", "2000.00")
fund_wallet(user, "BTC", "0.10000003")

out = {}
# Sell BTC to the USD balance, then spend USD on ETH (18 decimals) and BTC.
sell = trades.trade_sell(
    user=user, crypto_currency="BTC", fiat_currency="USD", amount=D("0.03000001"),
    payment_method="balance",
)
eth = trades.trade_buy(
    user=user, crypto_currency="ETH", fiat_currency="USD", amount=D("1000.00"),
    payment_method="balance",
)
btc = trades.trade_buy(
    user=user, crypto_currency="BTC", fiat_currency="USD", amount=D("333.33"),
    payment_method="balance",
)
eth_sell = trades.trade_sell(
    user=user, crypto_currency="ETH", fiat_currency="USD", amount=D("0.100000000000000007"),
    payment_method="balance",
)
for name, trade in (("sell", sell), ("eth", eth), ("btc", btc), ("eth_sell", eth_sell)):
    row = Trade.objects.get(pk=trade.pk)
    out[name] = {
        "status": row.status,
        "crypto_amount": str(row.crypto_amount),
        "fiat_amount": str(row.fiat_amount),
        "fee_amount": str(row.fee_amount),
        "same_as_computed": row.crypto_amount == trade.crypto_amount
        and row.fiat_amount == trade.fiat_amount,
    }
out["wallets"] = {
    code: str(a.balance)
    for a in LedgerAccount.objects.filter(owner=user)
    for code in [a.currency]
}
out["reserves"] = {
    a.currency: str(a.balance) for a in LedgerAccount.objects.filter(kind=AccountKind.RESERVE)
}
with connection.cursor() as cursor:
    cursor.execute("SELECT DISTINCT typeof(balance) FROM trading_ledgeraccount")
    out["balance_types"] = sorted(r[0] for r in cursor.fetchall())

# The database's own CHECK still refuses a negative wallet on text columns.
wallet = LedgerAccount.objects.get(owner=user, currency="ETH")
try:
    with transaction.atomic():
        LedgerAccount.objects.filter(pk=wallet.pk).update(balance=D("-0.000000000000000001"))
    out["negative_refused"] = False
except IntegrityError:
    out["negative_refused"] = True
# ... and a fee above the fiat amount (compared as fixed-width text).
try:
    with transaction.atomic():
        Trade.objects.filter(pk=btc.pk).update(fee_amount=D("1000"))
    out["fee_above_refused"] = False
except IntegrityError:
    out["fee_above_refused"] = True
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    var = tmp_path_factory.mktemp("sqlite-money") / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "CELERY_BROKER_URL"}
        and not k.startswith(("DJANGO_", "PYTEST_"))
    }
    env.update(DTX_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="dtexchange.settings")

    def run(*args, check=True):
        return subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            check=check,
            capture_output=True,
            text=True,
            timeout=180,
        )

    run("manage.py", "migrate", "--noinput")
    trading = run("-c", SCRIPT, check=False)
    assert trading.returncode == 0, trading.stderr[-3000:]
    line = next(x for x in trading.stdout.splitlines() if x.startswith("RESULT "))
    reconcile = run("manage.py", "reconcile_ledger", check=False)
    return json.loads(line.removeprefix("RESULT ")), reconcile, var


def test_trades_settle_with_exact_balances(embedded):
    out, _, _ = embedded
    assert {t["status"] for k, t in out.items() if k in ("sell", "eth", "btc", "eth_sell")} == {
        "completed"
    }
    assert all(out[k]["same_as_computed"] for k in ("sell", "eth", "btc", "eth_sell"))
    # ETH buy: 1000.00 USD, fee 0.5% = 5.00, 995 / 3000 rounded down to 18 decimals.
    assert D(out["eth"]["crypto_amount"]) == D("0.331666666666666666")
    eth_wallet = D("0.331666666666666666") - D("0.100000000000000007")
    assert D(out["wallets"]["ETH"]) == eth_wallet == D("0.231666666666666659")
    assert D(out["reserves"]["ETH"]) == D("100.000000000000000001") - eth_wallet
    btc_bought = D(out["btc"]["crypto_amount"])
    assert btc_bought == D("0.00341917")  # (333.33 - fee 1.67) / 97000, 8 decimals down
    assert D(out["wallets"]["BTC"]) == D("0.10000003") - D("0.03000001") + btc_bought
    assert D(out["reserves"]["BTC"]) == D("3.00000001") + D("0.03000001") - btc_bought
    usd = (
        D("2000.00")
        + D(out["sell"]["fiat_amount"])
        - D(out["sell"]["fee_amount"])
        - D("1000.00")
        - D("333.33")
        + D(out["eth_sell"]["fiat_amount"])
        - D(out["eth_sell"]["fee_amount"])
    )
    assert D(out["wallets"]["USD"]) == usd
    assert out["balance_types"] == ["text"]


def test_reconcile_ledger_passes(embedded):
    _, reconcile, _ = embedded
    assert reconcile.returncode == 0, reconcile.stderr
    assert "Ledger OK" in reconcile.stdout


def test_check_constraints_keep_their_meaning_on_text(embedded):
    out, _, _ = embedded
    assert out["negative_refused"] is True
    assert out["fee_above_refused"] is True


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "00000000000000000000.000000000000000000"),
        ("-0", "00000000000000000000.000000000000000000"),
        ("1.000000000000000001", "00000000000000000001.000000000000000001"),
        ("-0.5", "-00000000000000000000.500000000000000000"),
        ("99999999999999999999.999999999999999999", "99999999999999999999.999999999999999999"),
        ("1E+3", "00000000000000001000.000000000000000000"),
        # More decimals than the column holds: rounded like PostgreSQL's NUMERIC.
        ("0.0000000000000000005", "00000000000000000000.000000000000000001"),
    ],
)
def test_canonical_text_is_fixed_width_and_exact(value, text):
    from ledger.fields import sqlite_money_text

    assert sqlite_money_text(D(value)) == text
    assert D(text) == D(value).quantize(D("1e-18"), context=EXACT_38)


def test_canonical_text_refuses_what_numeric_38_18_cannot_hold():
    from ledger.fields import sqlite_money_text

    with pytest.raises(ValueError, match="does not fit"):
        sqlite_money_text(D("100000000000000000000"))


def test_the_text_order_is_the_numeric_order_of_non_negative_amounts():
    from ledger.fields import sqlite_money_text

    amounts = [D("0"), D("0.000000000000000001"), D("0.5"), D("9"), D("10"), D("1234.5")]
    assert sorted(amounts, key=sqlite_money_text) == amounts
    assert sqlite_money_text(D("-0.000000000000000001")) < sqlite_money_text(D("0"))


@pytest.mark.django_db
def test_postgresql_columns_stay_numeric_38_18():
    from django.apps import apps
    from django.db import connection

    from ledger.fields import MoneyField

    money_fields = [
        field
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if getattr(field, "max_digits", None) == 38
    ]
    assert len(money_fields) >= 20  # ledger, quotes, trades, payments, vouchers
    assert all(isinstance(field, MoneyField) for field in money_fields)
    assert {field.db_type(connection) for field in money_fields} == {"numeric(38, 18)"}

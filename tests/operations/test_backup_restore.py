"""The backup and restore drill on PostgreSQL: dump, restore into a new
database, the ledger reconciles, the audit chain verifies against the
manifest's head, the restored state matches the manifest; a database that
is not empty is refused before anything is written."""

import json
import uuid
from decimal import Decimal

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.selectors import audit_chain_head
from operations.backup import manifest_path
from operations.pgtools import ToolNotFound, pg_tool
from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices
from trading.services import trade_buy

pytestmark = pytest.mark.django_db(transaction=True)


def _server() -> dict:
    s = connection.settings_dict
    return {"host": s["HOST"] or "127.0.0.1", "port": s["PORT"] or 5432, "user": s["USER"]}


def _url(name: str) -> str:
    s = _server()
    return f"postgres://{s['user']}@{s['host']}:{s['port']}/{name}"


@pytest.fixture
def empty_database():
    name = f"dtx_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**_server(), dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(**_server(), dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _query(name: str, sql: str):
    with psycopg.connect(**_server(), dbname=name) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else None


def _some_business():
    set_prices()
    fund_reserves()  # audited reserve fundings
    user = UserFactory()
    fund_wallet(user, "USD", "500.00")
    for _ in range(2):
        trade_buy(
            user=user,
            crypto_currency="BTC",
            fiat_currency="USD",
            amount=Decimal("25.00"),
            payment_method="balance",
            payment_details={},
        )


def test_the_full_drill(tmp_path, empty_database, capsys):
    _some_business()
    dump = tmp_path / "dtx.dump"
    call_command("backup", out=dump)
    manifest = json.loads(manifest_path(dump).read_text())
    seq, digest = audit_chain_head()
    assert seq > 0 and manifest["audit_head"] == {"seq": seq, "hash": digest}
    assert "audit.0002_audit_append_only" in manifest["migrations"]
    assert manifest["ledger"]["USD"]["user_wallet"] == "450"  # 500 in, 2 x 25 spent on BTC
    assert manifest["ledger"]["BTC"]["reserve"]
    assert manifest["dump"]["bytes"] == dump.stat().st_size > 0

    capsys.readouterr()
    call_command("restore", str(dump), database_url=_url(empty_database))
    out = capsys.readouterr().out
    assert "reconcile_ledger: Ledger OK" in out
    assert "audit_verify: audit chain ok" in out
    assert "matches the manifest" in out
    restored = _query(empty_database, "SELECT count(*) FROM trading_trade")[0][0]
    assert restored == 2
    # The restored database keeps the append-only guards.
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        _query(empty_database, "UPDATE audit_auditevent SET action = 'x'")


def test_a_database_that_is_not_empty_is_refused_before_anything_is_written(
    tmp_path, empty_database
):
    _some_business()
    dump = tmp_path / "dtx.dump"
    call_command("backup", out=dump)
    _query(empty_database, "CREATE TABLE someone_elses (id int)")
    before = _query(
        empty_database, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    )
    with pytest.raises(CommandError, match=r"is not empty .* Nothing was written"):
        call_command("restore", str(dump), database_url=_url(empty_database))
    after = _query(
        empty_database, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    )
    assert before == after


def test_a_damaged_dump_is_refused(tmp_path, empty_database):
    _some_business()
    dump = tmp_path / "dtx.dump"
    call_command("backup", out=dump)
    with dump.open("r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02")
    with pytest.raises(CommandError, match="does not match its manifest"):
        call_command("restore", str(dump), database_url=_url(empty_database))
    assert _query(
        empty_database,
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
    ) == [(0,)]


def test_a_missing_client_of_the_servers_version_is_named(settings, tmp_path):
    settings.PG_BIN_DIR = str(tmp_path)
    with pytest.raises(ToolNotFound, match="No pg_dump of PostgreSQL 99"):
        pg_tool("pg_dump", 99)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
        major = cursor.fetchone()[0]
    assert pg_tool("pg_dump", major).name == "pg_dump"

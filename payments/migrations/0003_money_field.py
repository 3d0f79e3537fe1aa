# MoneyField: NUMERIC(38, 18) on PostgreSQL as before (no DDL there), exact
# canonical text on SQLite (see trading/fields.py).

import importlib

import ledger.fields
from django.db import migrations

_APPEND_ONLY = importlib.import_module("payments.migrations.0002_deposit_decision_append_only")


# SQLite alters a column by rebuilding the table, which drops the table's
# triggers: lift the deposit decisions' append-only triggers for the
# rebuild (and the rewrite of the amounts in canonical text), then put them back.
def _sqlite_drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _APPEND_ONLY.SQLITE_DOWN:
            schema_editor.execute(sql)
        ledger.fields.sqlite_pause_checks(apps, schema_editor)


def _sqlite_create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for sql in _APPEND_ONLY.SQLITE_UP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0002_deposit_decision_append_only'),
    ]

    operations = [
        migrations.RunPython(_sqlite_drop_triggers, _sqlite_create_triggers),
        migrations.AlterField(
            model_name='bankdeposit',
            name='amount_received',
            field=ledger.fields.MoneyField(blank=True, decimal_places=18, max_digits=38, null=True),
        ),
        migrations.AlterField(
            model_name='bankdeposit',
            name='expected_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='depositdecision',
            name='amount_received',
            field=ledger.fields.MoneyField(blank=True, decimal_places=18, max_digits=38, null=True),
        ),
        migrations.AlterField(
            model_name='depositdecision',
            name='expected_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='mobilemoneypayment',
            name='amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='mobilemoneypayment',
            name='amount_received',
            field=ledger.fields.MoneyField(blank=True, decimal_places=18, max_digits=38, null=True),
        ),
        migrations.RunPython(
            ledger.fields.sqlite_canonicalize(
                ("payments", "MobileMoneyPayment", ("amount", "amount_received")),
                ("payments", "BankDeposit", ("expected_amount", "amount_received")),
                ("payments", "DepositDecision", ("expected_amount", "amount_received")),
            ),
            ledger.fields.sqlite_pause_checks,
        ),
        migrations.RunPython(_sqlite_create_triggers, _sqlite_drop_triggers),
    ]

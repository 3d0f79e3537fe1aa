# Trades link their ledger postings by the posting's idempotency key instead
# of its id (see Trade.ledger_transaction). Existing links are converted:
# drop the foreign key (CharField), map each id to its key, re-add the
# foreign key on the key.

import django.db.models.deletion
from django.db import migrations, models

_TO_KEYS = """
UPDATE trading_trade t SET {col} = l.idempotency_key
FROM trading_ledgertransaction l WHERE t.{col} = l.id::varchar
"""
_TO_IDS = """
UPDATE trading_trade t SET {col} = l.id::varchar
FROM trading_ledgertransaction l WHERE t.{col} = l.idempotency_key
"""


def _fk():
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="trading.ledgertransaction",
        to_field="idempotency_key",
    )


class Migration(migrations.Migration):

    dependencies = [
        ("trading", "0003_trades"),
    ]

    operations = [
        migrations.AlterField(
            model_name="trade",
            name="ledger_transaction",
            field=models.CharField(blank=True, null=True, max_length=200),
        ),
        migrations.AlterField(
            model_name="trade",
            name="refund_transaction",
            field=models.CharField(blank=True, null=True, max_length=200),
        ),
        # IMMEDIATE: the UPDATE's deferred foreign-key checks run now, else
        # PostgreSQL refuses the CREATE INDEX that follows ("pending trigger
        # events").
        migrations.RunSQL(
            [
                "SET CONSTRAINTS ALL IMMEDIATE",
                _TO_KEYS.format(col="ledger_transaction"),
                _TO_KEYS.format(col="refund_transaction"),
            ],
            [
                "SET CONSTRAINTS ALL IMMEDIATE",
                _TO_IDS.format(col="ledger_transaction"),
                _TO_IDS.format(col="refund_transaction"),
            ],
        ),
        migrations.AlterField(model_name="trade", name="ledger_transaction", field=_fk()),
        migrations.AlterField(model_name="trade", name="refund_transaction", field=_fk()),
    ]

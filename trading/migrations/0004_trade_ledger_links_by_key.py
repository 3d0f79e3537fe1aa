# Trades link their ledger postings by the posting's idempotency key instead
# of its id (see Trade.ledger_transaction). Existing links are converted:
# drop the foreign key (CharField), map each id to its key, re-add the
# foreign key on the key.

import django.db.models.deletion
from django.db import migrations, models

_COLUMNS = ("ledger_transaction", "refund_transaction")


def _immediate(schema_editor) -> None:
    # Run the UPDATEs' deferred foreign-key checks now, else PostgreSQL
    # refuses the CREATE INDEX that follows ("pending trigger events").
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _relink(apps, schema_editor, *, to_keys: bool) -> None:
    _immediate(schema_editor)
    Trade = apps.get_model("trading", "Trade")
    LedgerTransaction = apps.get_model("trading", "LedgerTransaction")
    for col in _COLUMNS:
        linked = set(Trade.objects.exclude(**{col: None}).values_list(col, flat=True))
        if to_keys:
            ids = [int(v) for v in linked if str(v).isdigit()]
            pairs = LedgerTransaction.objects.filter(pk__in=ids).values_list("pk", "idempotency_key")
            mapping = {str(pk): key for pk, key in pairs}
        else:
            pairs = LedgerTransaction.objects.filter(idempotency_key__in=linked).values_list(
                "idempotency_key", "pk"
            )
            mapping = {key: str(pk) for key, pk in pairs}
        for old, new in mapping.items():
            Trade.objects.filter(**{col: old}).update(**{col: new})


def _forward(apps, schema_editor):
    _relink(apps, schema_editor, to_keys=True)


def _backward(apps, schema_editor):
    _relink(apps, schema_editor, to_keys=False)


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
        migrations.RunPython(_forward, _backward),
        migrations.AlterField(model_name="trade", name="ledger_transaction", field=_fk()),
        migrations.AlterField(model_name="trade", name="refund_transaction", field=_fk()),
    ]

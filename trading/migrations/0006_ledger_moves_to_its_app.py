# The ledger's models now live in the `ledger` app (its migration 0001):
# trading forgets them and its trade links point there. State only: the
# tables and foreign keys stay as they are.

import django.db.models.deletion
from django.db import migrations, models


def _link():
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="ledger.ledgertransaction",
        to_field="idempotency_key",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0005_money_field"),
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="trade", name="ledger_transaction", field=_link()),
                migrations.AlterField(model_name="trade", name="refund_transaction", field=_link()),
                migrations.DeleteModel(name="LedgerEntry"),
                migrations.DeleteModel(name="LedgerAccount"),
                migrations.DeleteModel(name="LedgerTransaction"),
            ]
        )
    ]

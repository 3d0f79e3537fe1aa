# The money columns become MoneyField: NUMERIC(38, 18) as before, no DDL.

import ledger.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0002_deposit_decision_append_only'),
    ]

    operations = [
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
    ]

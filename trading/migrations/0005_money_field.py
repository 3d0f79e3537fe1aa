# The money columns become MoneyField: NUMERIC(38, 18) as before, no DDL.

import ledger.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0004_trade_ledger_links_by_key'),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgeraccount',
            name='balance',
            field=ledger.fields.MoneyField(decimal_places=18, default=0, max_digits=38),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='quote',
            name='amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='quote',
            name='crypto_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='quote',
            name='exchange_rate',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='quote',
            name='fee_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='quote',
            name='fee_rate',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='quote',
            name='fiat_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='trade',
            name='crypto_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='trade',
            name='exchange_rate',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='trade',
            name='fee_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='trade',
            name='fee_rate',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='trade',
            name='fiat_amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
    ]

# The money columns become MoneyField: NUMERIC(38, 18) as before, no DDL.

import ledger.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('vouchers', '0002_voucher_redeemed_trade'),
    ]

    operations = [
        migrations.AlterField(
            model_name='voucher',
            name='amount',
            field=ledger.fields.MoneyField(decimal_places=18, max_digits=38),
        ),
        migrations.AlterField(
            model_name='voucherbatch',
            name='amount',
            field=ledger.fields.MoneyField(decimal_places=18, help_text='Face value of each.', max_digits=38),
        ),
    ]

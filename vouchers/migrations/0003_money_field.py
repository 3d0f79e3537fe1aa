# MoneyField: NUMERIC(38, 18) on PostgreSQL as before (no DDL there), exact
# canonical text on SQLite (see trading/fields.py).

import ledger.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('vouchers', '0002_voucher_redeemed_trade'),
    ]

    operations = [
        migrations.RunPython(
            ledger.fields.sqlite_pause_checks, ledger.fields.sqlite_resume_checks
        ),
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
        migrations.RunPython(
            ledger.fields.sqlite_canonicalize(
                    ("vouchers", "VoucherBatch", ("amount",)),
                    ("vouchers", "Voucher", ("amount",)),
            ),
            ledger.fields.sqlite_pause_checks,
        ),
    ]

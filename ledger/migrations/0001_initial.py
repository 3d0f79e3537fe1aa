# The ledger's models move here from `trading` with their tables unchanged:
# state only (the tables, constraints and triggers were made by trading's
# migrations 0001, 0002 and 0005 and keep their `trading_` names).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import ledger.fields

_CURRENCIES = [
    ("BTC", "BTC"),
    ("ETH", "ETH"),
    ("SOL", "SOL"),
    ("TRX", "TRX"),
    ("USD", "USD"),
    ("UGX", "UGX"),
]
_KINDS = [
    ("user_wallet", "User wallet"),
    ("reserve", "House reserve"),
    ("fee_revenue", "Fee revenue"),
    ("mobile_money_clearing", "Mobile money clearing"),
    ("bank_clearing", "Bank clearing"),
    ("voucher_liability", "Voucher liability"),
    ("equity", "Equity / external"),
]

STATE = [
    migrations.CreateModel(
        name="LedgerTransaction",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("kind", models.CharField(max_length=32)),
            ("idempotency_key", models.CharField(max_length=200, unique=True)),
            ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ("actor", models.CharField(blank=True, max_length=200)),
            ("description", models.CharField(blank=True, max_length=500)),
            ("reference", models.CharField(blank=True, db_index=True, max_length=100)),
        ],
        options={"db_table": "trading_ledgertransaction", "ordering": ["id"]},
    ),
    migrations.CreateModel(
        name="LedgerAccount",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("currency", models.CharField(choices=_CURRENCIES, max_length=8)),
            ("kind", models.CharField(choices=_KINDS, max_length=32)),
            ("balance", ledger.fields.MoneyField(decimal_places=18, default=0, max_digits=38)),
            ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ("owner", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="ledger_accounts", to=settings.AUTH_USER_MODEL)),
        ],
        options={
            "db_table": "trading_ledgeraccount",
            "ordering": ["id"],
            "constraints": [
                models.UniqueConstraint(condition=models.Q(("owner__isnull", False)), fields=("owner", "currency", "kind"), name="ledger_account_unique_owned"),
                models.UniqueConstraint(condition=models.Q(("owner__isnull", True)), fields=("currency", "kind"), name="ledger_account_unique_house"),
                models.CheckConstraint(condition=models.Q(("balance__lt", 0), ("kind__in", ("user_wallet", "reserve")), _negated=True), name="ledger_account_non_negative"),
                models.CheckConstraint(condition=models.Q(models.Q(("kind", "user_wallet"), ("owner__isnull", False)), models.Q(models.Q(("kind", "user_wallet"), _negated=True), ("owner__isnull", True)), _connector="OR"), name="ledger_account_owner_matches_kind"),
            ],
        },
    ),
    migrations.CreateModel(
        name="LedgerEntry",
        fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("currency", models.CharField(choices=_CURRENCIES, max_length=8)),
            ("amount", ledger.fields.MoneyField(decimal_places=18, max_digits=38)),
            ("account", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="entries", to="ledger.ledgeraccount")),
            ("transaction", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="entries", to="ledger.ledgertransaction")),
        ],
        options={
            "db_table": "trading_ledgerentry",
            "verbose_name_plural": "ledger entries",
            "ordering": ["id"],
            "constraints": [
                models.CheckConstraint(condition=models.Q(("amount", 0), _negated=True), name="ledger_entry_amount_non_zero"),
            ],
        },
    ),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("trading", "0005_money_field"),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=STATE)]

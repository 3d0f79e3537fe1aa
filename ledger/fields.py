"""``MoneyField``: the one column type for amounts of money and rates.

PostgreSQL: ``NUMERIC(38, 18)``, exactly what a ``DecimalField(38, 18)`` makes.

SQLite (the embedded default of ``make run``): a DecimalField column there
has NUMERIC affinity, so SQLite turns '1.000000000000000001' into a REAL
(15 significant digits) and money is silently created or lost. A MoneyField
column is ``text`` instead and holds the exact decimal in one canonical,
fixed-width form: sign, 20 zero-padded integer digits, '.', 18 decimals
(``-00000000000000000001.500000000000000000``). Django's SQLite DecimalField
converter reads such text back as an exact Decimal. The fixed width keeps the
database's own comparisons meaningful on text: the sign tests of the CHECK
constraints (``balance < 0``, ``amount > 0``), equality, and the order of two
non-negative amounts (``fee_amount <= fiat_amount``). Arithmetic and SUM() on
these columns are NOT exact on SQLite (it converts text to REAL): code that
adds money does it in Python on that database (``ledger_post``'s portable
path, ``ledger_reconcile``).
"""

from decimal import ROUND_HALF_UP, Context, Decimal, Inexact

from django.db import models

from ledger.money import DECIMAL_PLACES, MAX_DIGITS

_QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
_INT_DIGITS = MAX_DIGITS - DECIMAL_PLACES
_WIDTH = MAX_DIGITS + 1  # digits and the point
# PostgreSQL NUMERIC rounds extra decimals half away from zero: do the same.
_CONTEXT = Context(prec=MAX_DIGITS + 2, rounding=ROUND_HALF_UP)
# For adding money in Python (where SQLite cannot): enough digits for any sum
# of NUMERIC(38, 18) values, and an error rather than a rounded sum if not.
EXACT = Context(prec=2 * MAX_DIGITS, traps=[Inexact])


def sqlite_money_text(value: Decimal) -> str:
    """The canonical text a MoneyField stores on SQLite for ``value``."""
    amount = Decimal(value).quantize(_QUANTUM, context=_CONTEXT)
    # copy_abs, not abs(): abs() rounds to the thread context's 28 digits.
    if amount.copy_abs() >= Decimal(10) ** _INT_DIGITS:
        # What PostgreSQL answers with "numeric field overflow".
        raise ValueError(f"{value} does not fit NUMERIC({MAX_DIGITS}, {DECIMAL_PLACES})")
    if amount.is_zero():
        amount = amount.copy_abs()  # no "-0": it would compare below "0"
    text = format(amount.copy_abs(), f"0{_WIDTH}.{DECIMAL_PLACES}f")
    return "-" + text if amount < 0 else text


class MoneyField(models.DecimalField):
    """A DecimalField(max_digits=38, decimal_places=18) that stays exact on SQLite."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def db_type(self, connection):
        if connection.vendor == "sqlite":
            return "text"
        return super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if connection.vendor != "sqlite":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        return sqlite_money_text(self.to_python(value))


# --- Migrating existing SQLite columns to MoneyField ----------------------------
# A `make run` database made before MoneyField holds these columns as NUMERIC
# (integers and REALs). Altering them copies the values as they are ('0.5',
# '5', '1.0e-05') into the new text columns, where the CHECK constraints'
# text comparisons against the canonical '00…0.00…' would misjudge them. So
# the migration pauses SQLite's CHECKs, alters the columns, rewrites every
# value in canonical form, and resumes the CHECKs. PostgreSQL: nothing to do.


def sqlite_pause_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("PRAGMA ignore_check_constraints = 1")


def sqlite_resume_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("PRAGMA ignore_check_constraints = 0")


def sqlite_canonicalize(*models_fields: tuple[str, str, tuple[str, ...]]):
    """A RunPython function rewriting ``(app_label, model, (fields...))``
    money columns in MoneyField's canonical text, then resuming CHECKs."""

    def forwards(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "sqlite":
            return
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            for app_label, model_name, field_names in models_fields:
                model = apps.get_model(app_label, model_name)
                table = qn(model._meta.db_table)
                columns = [qn(model._meta.get_field(name).column) for name in field_names]
                cursor.execute(f"SELECT rowid, {', '.join(columns)} FROM {table}")  # noqa: S608
                for rowid, *values in cursor.fetchall():
                    texts = [
                        None if value is None else sqlite_money_text(Decimal(str(value)))
                        for value in values
                    ]
                    sets = ", ".join(f"{column} = %s" for column in columns)
                    cursor.execute(
                        f"UPDATE {table} SET {sets} WHERE rowid = %s",  # noqa: S608
                        [*texts, rowid],
                    )
        sqlite_resume_checks(apps, schema_editor)

    return forwards

"""Deposit decisions are an audit trail: the database itself refuses UPDATE and
DELETE on them (the model refuses too; this also stops raw SQL and bulk
queryset calls)."""

from django.db import migrations

PG_UP = """
CREATE OR REPLACE FUNCTION payments_depositdecision_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'payments_depositdecision is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payments_depositdecision_no_update_delete
    BEFORE UPDATE OR DELETE ON payments_depositdecision
    FOR EACH ROW EXECUTE FUNCTION payments_depositdecision_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS payments_depositdecision_no_update_delete ON payments_depositdecision;
DROP FUNCTION IF EXISTS payments_depositdecision_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER payments_depositdecision_no_update BEFORE UPDATE ON payments_depositdecision
       BEGIN SELECT RAISE(ABORT, 'payments_depositdecision is append-only'); END;""",
    """CREATE TRIGGER payments_depositdecision_no_delete BEFORE DELETE ON payments_depositdecision
       BEGIN SELECT RAISE(ABORT, 'payments_depositdecision is append-only'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS payments_depositdecision_no_update;",
    "DROP TRIGGER IF EXISTS payments_depositdecision_no_delete;",
]


def up(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_UP)
    elif vendor == "sqlite":
        for sql in SQLITE_UP:
            schema_editor.execute(sql)


def down(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DOWN)
    elif vendor == "sqlite":
        for sql in SQLITE_DOWN:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]
    operations = [migrations.RunPython(up, down)]

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


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]
    operations = [migrations.RunSQL([PG_UP], [PG_DOWN])]

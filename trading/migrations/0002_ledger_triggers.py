"""PostgreSQL guards of the ledger, so that no code path — not even raw SQL —
can break double entry:

* a DEFERRABLE INITIALLY DEFERRED constraint trigger on ledger entries checks,
  at COMMIT, that the transaction each new entry belongs to sums to zero per
  currency and that the entry's currency is its account's. It looks only at
  the touched transaction's few rows (index on transaction_id), so it stays
  cheap however large the ledger grows;
* BEFORE UPDATE/DELETE triggers make entries and ledger transactions
  append-only (mistakes are fixed by a reversing transaction);
* an account's owner, currency and kind cannot change once created.

TRUNCATE is left alone: the test runner empties tables with it, and only the
database owner can run it.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION trading_ledger_entry_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    account_currency varchar;
    bad_currency varchar;
    bad_total numeric;
BEGIN
    SELECT currency INTO account_currency
      FROM trading_ledgeraccount WHERE id = NEW.account_id;
    IF account_currency IS DISTINCT FROM NEW.currency THEN
        RAISE EXCEPTION 'ledger entry % is in % but account % is in %',
            NEW.id, NEW.currency, NEW.account_id, account_currency
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, sum(amount) INTO bad_currency, bad_total
      FROM trading_ledgerentry
     WHERE transaction_id = NEW.transaction_id
     GROUP BY currency
    HAVING sum(amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: % entries sum to %',
            NEW.transaction_id, bad_currency, bad_total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER trading_ledger_entry_balanced
    AFTER INSERT ON trading_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION trading_ledger_entry_check();

CREATE FUNCTION trading_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (post a reversing transaction instead)',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER trading_ledger_entry_append_only
    BEFORE UPDATE OR DELETE ON trading_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION trading_ledger_append_only();

CREATE TRIGGER trading_ledger_transaction_append_only
    BEFORE UPDATE OR DELETE ON trading_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION trading_ledger_append_only();

CREATE FUNCTION trading_ledger_account_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id
       OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.kind IS DISTINCT FROM OLD.kind THEN
        RAISE EXCEPTION 'ledger account %: owner, currency and kind cannot change', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER trading_ledger_account_fixed
    BEFORE UPDATE OF owner_id, currency, kind ON trading_ledgeraccount
    FOR EACH ROW EXECUTE FUNCTION trading_ledger_account_fixed();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS trading_ledger_account_fixed ON trading_ledgeraccount;
DROP TRIGGER IF EXISTS trading_ledger_transaction_append_only ON trading_ledgertransaction;
DROP TRIGGER IF EXISTS trading_ledger_entry_append_only ON trading_ledgerentry;
DROP TRIGGER IF EXISTS trading_ledger_entry_balanced ON trading_ledgerentry;
DROP FUNCTION IF EXISTS trading_ledger_account_fixed();
DROP FUNCTION IF EXISTS trading_ledger_append_only();
DROP FUNCTION IF EXISTS trading_ledger_entry_check();
"""


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_ledger")]

    operations = [migrations.RunSQL([FORWARD], [BACKWARD], elidable=False)]

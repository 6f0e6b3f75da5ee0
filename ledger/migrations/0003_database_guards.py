"""Database-level guards of DESIGN §6 (PostgreSQL only; the embedded SQLite default relies on the
single-writer sequencer and on ``ledger_verify``).

- unique ``(tenant, sequence_number)`` and ``sequence_number >= 1`` are model constraints (0002);
- every inserted entry must link to entry ``seq - 1`` of its tenant, by number *and* by hash
  (``previous_hash`` = that entry's ``current_hash``), or be entry 1 with the genesis hash. It is
  one statement-level trigger over the transition table, so a 10,000-row batch costs one window
  pass and one index probe per tenant, not 10,000 row-trigger calls; with no UPDATE/DELETE
  possible, unique + link means gapless and fork-free;
- UPDATE and DELETE on entries, checkpoints and Merkle nodes are refused by triggers.

Superusers can still bypass triggers (``session_replication_role = replica``); that is what the
tamper tests do, and why ``ledger_verify`` recomputes everything against signed checkpoints.
"""

from django.db import migrations

GUARDS = r"""
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION ledger_entry_check_links() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad_tenant bigint;
    bad_seq bigint;
BEGIN
    -- Rows of this statement link to their predecessor within the statement (a window over
    -- the transition table); only each tenant's first new row is looked up in the table.
    SELECT n.tenant_id, n.sequence_number INTO bad_tenant, bad_seq
    FROM (
        SELECT tenant_id, sequence_number, previous_hash,
               lag(sequence_number) OVER w AS prev_seq, lag(current_hash) OVER w AS prev_hash
        FROM ledger_new_entries
        WINDOW w AS (PARTITION BY tenant_id ORDER BY sequence_number)
    ) n
    WHERE CASE
        WHEN n.prev_seq IS NOT NULL THEN n.prev_seq <> n.sequence_number - 1 OR n.prev_hash <> n.previous_hash
        WHEN n.sequence_number = 1 THEN n.previous_hash <> repeat('0', 64)
        ELSE (SELECT p.current_hash FROM ledger_ledgerentry p
              WHERE p.tenant_id = n.tenant_id AND p.sequence_number = n.sequence_number - 1)
             IS DISTINCT FROM n.previous_hash
    END
    ORDER BY n.tenant_id, n.sequence_number
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % of tenant % does not link to entry % (gap or fork)',
            bad_seq, bad_tenant, bad_seq - 1
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_entry_links AFTER INSERT ON ledger_ledgerentry
    REFERENCING NEW TABLE AS ledger_new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_check_links();
CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE OR DELETE ON ledger_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoint_immutable BEFORE UPDATE OR DELETE ON ledger_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_merklenode_immutable BEFORE UPDATE OR DELETE ON ledger_merklenode
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

DROP = r"""
DROP TRIGGER IF EXISTS ledger_merklenode_immutable ON ledger_merklenode;
DROP TRIGGER IF EXISTS ledger_checkpoint_immutable ON ledger_checkpoint;
DROP TRIGGER IF EXISTS ledger_entry_immutable ON ledger_ledgerentry;
DROP TRIGGER IF EXISTS ledger_entry_links ON ledger_ledgerentry;
DROP FUNCTION IF EXISTS ledger_entry_check_links();
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)  # None: no %-placeholders in the SQL

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_entries_payloads_heads_checkpoints")]

    operations = [migrations.RunPython(_run(GUARDS), _run(DROP))]

"""Every ledger table append-only on PostgreSQL, TRUNCATE included (issue #9; 0003 covered
UPDATE/DELETE of entries, checkpoints and Merkle nodes only, and TRUNCATE fires no row or
UPDATE/DELETE trigger at all).

- TRUNCATE is refused on every ledger table, intake included (statement-level BEFORE TRUNCATE);
- payloads: UPDATE refused; DELETE only of payloads that are safe in the archive — no entry after
  the tenant's last archived segment uses them (the archiver's pruning, and nothing else);
- heads: born at 0 with the genesis hash; an UPDATE must move the head forward to the chain's
  real last entry (its number and ``current_hash``, nothing after it); DELETE refused;
- archive segments: DELETE refused; UPDATE may only set ``payloads_pruned_at``, once;
- intake: UPDATE refused (the caller's pre-hashed template is what gets chained); DELETE stays,
  it is how the sequencer moves rows.

The only ways past these triggers need a superuser: ``session_replication_role = replica`` (or
dropping them), and for TRUNCATE alone a superuser session that sets ``maestro.ledger_flush =
on`` — what the test database's teardown flush does, through
``ledger/management/commands/flush.py`` when ``MAESTRO_LEDGER_ALLOW_FLUSH`` is on (test settings
only). A superuser can rewrite anything in the database; the checkpoints archived write-once
outside it are what catches that (``ledger_verify``).
"""

from django.db import migrations

REFUSE = "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
REFUSE_TRUNCATE = "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_truncate()"
TABLES = ["ledger_ledgerentry", "ledger_ledgerpayload", "ledger_tenanthead", "ledger_checkpoint",
          "ledger_merklenode", "ledger_archivesegment", "ledger_intakeentry"]

FUNCTIONS = r"""
CREATE FUNCTION ledger_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The one way through: a superuser session that has said so (the test database's flush).
    IF current_setting('is_superuser') = 'on' AND current_setting('maestro.ledger_flush', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'TRUNCATE on % is not allowed: the ledger is append-only', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION ledger_payload_check_archived() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad_tenant bigint;
    bad_hash text;
BEGIN
    -- The tail after the last archived segment is scanned once per tenant (the archiver's own
    -- query), not once per deleted payload.
    WITH marks AS (
        SELECT t.tenant_id,
               (SELECT max(s.last_sequence) FROM ledger_archivesegment s WHERE s.tenant_id = t.tenant_id) AS archived
        FROM (SELECT DISTINCT tenant_id FROM ledger_deleted_payloads) t
    )
    SELECT x.tenant_id, x.payload_hash INTO bad_tenant, bad_hash FROM (
        SELECT d.tenant_id, d.payload_hash
        FROM ledger_deleted_payloads d JOIN marks m ON m.tenant_id = d.tenant_id
        WHERE m.archived IS NULL
        UNION ALL
        SELECT d.tenant_id, d.payload_hash
        FROM marks m
        JOIN ledger_ledgerentry e ON e.tenant_id = m.tenant_id AND e.sequence_number > m.archived
        JOIN ledger_deleted_payloads d ON d.tenant_id = e.tenant_id AND d.payload_hash = e.payload_hash
    ) x
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'DELETE on ledger_ledgerpayload is not allowed: payload % of tenant % is not archived yet',
            bad_hash, bad_tenant
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_head_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.sequence_number <> 0 OR NEW.head_hash <> repeat('0', 64) OR NEW.frontier <> '[]'::jsonb THEN
            RAISE EXCEPTION 'ledger head of tenant % starts at 0 with the genesis hash', NEW.tenant_id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.sequence_number <= OLD.sequence_number
       OR NEW.head_hash IS DISTINCT FROM (
           SELECT e.current_hash FROM ledger_ledgerentry e
           WHERE e.tenant_id = NEW.tenant_id AND e.sequence_number = NEW.sequence_number)
       OR EXISTS (SELECT 1 FROM ledger_ledgerentry e
                  WHERE e.tenant_id = NEW.tenant_id AND e.sequence_number > NEW.sequence_number) THEN
        RAISE EXCEPTION 'ledger head of tenant % may only move forward to its last entry (% -> %)',
            OLD.tenant_id, OLD.sequence_number, NEW.sequence_number
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION ledger_segment_check_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.payloads_pruned_at IS NOT NULL OR NEW.payloads_pruned_at IS NULL
       OR to_jsonb(NEW) - 'payloads_pruned_at' <> to_jsonb(OLD) - 'payloads_pruned_at' THEN
        RAISE EXCEPTION 'UPDATE on ledger_archivesegment is not allowed: only payloads_pruned_at may be set, once'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
"""

TRIGGERS = "\n".join(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} {REFUSE_TRUNCATE};" for t in TABLES) + f"""
CREATE TRIGGER ledger_ledgerpayload_no_update BEFORE UPDATE ON ledger_ledgerpayload {REFUSE};
CREATE TRIGGER ledger_ledgerpayload_delete_archived AFTER DELETE ON ledger_ledgerpayload
    REFERENCING OLD TABLE AS ledger_deleted_payloads
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_payload_check_archived();
CREATE TRIGGER ledger_tenanthead_forward BEFORE INSERT OR UPDATE ON ledger_tenanthead
    FOR EACH ROW EXECUTE FUNCTION ledger_head_check();
CREATE TRIGGER ledger_tenanthead_no_delete BEFORE DELETE ON ledger_tenanthead {REFUSE};
CREATE TRIGGER ledger_archivesegment_pruned_only BEFORE UPDATE ON ledger_archivesegment
    FOR EACH ROW EXECUTE FUNCTION ledger_segment_check_update();
CREATE TRIGGER ledger_archivesegment_no_delete BEFORE DELETE ON ledger_archivesegment {REFUSE};
CREATE TRIGGER ledger_intakeentry_no_update BEFORE UPDATE ON ledger_intakeentry {REFUSE};
"""

DROP = "\n".join(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};" for t in TABLES) + """
DROP TRIGGER IF EXISTS ledger_ledgerpayload_no_update ON ledger_ledgerpayload;
DROP TRIGGER IF EXISTS ledger_ledgerpayload_delete_archived ON ledger_ledgerpayload;
DROP TRIGGER IF EXISTS ledger_tenanthead_forward ON ledger_tenanthead;
DROP TRIGGER IF EXISTS ledger_tenanthead_no_delete ON ledger_tenanthead;
DROP TRIGGER IF EXISTS ledger_archivesegment_pruned_only ON ledger_archivesegment;
DROP TRIGGER IF EXISTS ledger_archivesegment_no_delete ON ledger_archivesegment;
DROP TRIGGER IF EXISTS ledger_intakeentry_no_update ON ledger_intakeentry;
DROP FUNCTION IF EXISTS ledger_segment_check_update();
DROP FUNCTION IF EXISTS ledger_head_check();
DROP FUNCTION IF EXISTS ledger_payload_check_archived();
DROP FUNCTION IF EXISTS ledger_refuse_truncate();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)  # None: no %-placeholders in the SQL

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_entry_ids_per_tenant")]

    operations = [migrations.RunPython(_run(FUNCTIONS + TRIGGERS), _run(DROP))]

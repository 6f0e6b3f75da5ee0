"""Entry ids are unique per tenant (issue #9): appending an id another tenant uses answered 409
and so told the caller that the id exists elsewhere. Entries get a surrogate key (``pk_id``,
filled for existing rows) and ``(tenant, id)`` is unique on entries and intake; no id changes, so
no hash changes. On PostgreSQL adding the identity column rewrites ``ledger_ledgerentry`` under
an exclusive lock (no row trigger fires on a rewrite): run it as a release step."""

import uuid

from django.db import migrations, models
from django.db.migrations.operations.base import Operation


class KeyMove(Operation):
    """The primary key moves from ``id`` to a new ``pk_id``. PostgreSQL needs the old key gone
    before a column can be added as the key; SQLite rebuilds the table for each step, and a
    step that leaves the table without a key makes Django add an ``id`` of its own (a duplicate
    column), so there the new key comes first and the rebuild drops the old one."""

    reversible = False

    def __init__(self, operations):
        self.operations = operations

    def state_forwards(self, app_label, state):
        for operation in self.operations:
            operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        sqlite = schema_editor.connection.vendor == "sqlite"
        state = from_state
        for operation in reversed(self.operations) if sqlite else self.operations:
            after = state.clone()
            operation.state_forwards(app_label, after)
            operation.database_forwards(app_label, schema_editor, state, after)
            state = after

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        raise NotImplementedError("entry ids per tenant cannot be made global again")

    def describe(self):
        return "Move the primary key of ledger entries to a surrogate pk_id"


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0003_database_guards"),
        ("tenancy", "0002_default_tenant"),
    ]

    operations = [
        KeyMove([
            migrations.AlterField(
                model_name="ledgerentry",
                name="id",
                field=models.UUIDField(),
            ),
            migrations.AddField(
                model_name="ledgerentry",
                name="pk_id",
                field=models.BigAutoField(primary_key=True, serialize=False),
            ),
        ]),
        migrations.AlterField(
            model_name="intakeentry",
            name="id",
            field=models.UUIDField(default=uuid.uuid4),
        ),
        migrations.AddConstraint(
            model_name="intakeentry",
            constraint=models.UniqueConstraint(fields=("tenant", "id"), name="ledger_intake_tenant_id_uniq"),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(fields=("tenant", "id"), name="ledger_entry_tenant_id_uniq"),
        ),
    ]

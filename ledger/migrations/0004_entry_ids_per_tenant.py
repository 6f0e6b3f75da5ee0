"""Entry ids are unique per tenant (issue #9): appending an id another tenant uses answered 409
and so told the caller that the id exists elsewhere. Entries get a surrogate key (``pk_id``,
filled for existing rows) and ``(tenant, id)`` is unique on entries and intake; no id changes, so
no hash changes. On PostgreSQL adding the identity column rewrites ``ledger_ledgerentry`` under
an exclusive lock (no row trigger fires on a rewrite): run it as a release step."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0003_database_guards"),
        ("tenancy", "0002_default_tenant"),
    ]

    operations = [
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

"""AuditEvent, moved here from ``orchestration`` with its table and rows (the table was renamed
by orchestration 0003): this migration only creates the model in this app's state."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tenancy", "0001_initial"),
        ("orchestration", "0003_move_auditevent_to_write_path"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("timestamp", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("legacy_id", models.CharField(blank=True, db_index=True, default="", max_length=64)),
                        ("actor", models.CharField(max_length=150)),
                        ("actor_type", models.CharField(default="user", max_length=16)),
                        ("action", models.CharField(max_length=100)),
                        ("resource", models.CharField(blank=True, default="", max_length=200)),
                        ("resource_type", models.CharField(blank=True, default="", max_length=50)),
                        ("details", models.TextField(blank=True, default="")),
                        ("status", models.CharField(choices=[("allowed", "Allowed"), ("denied", "Denied")],
                                                    default="allowed", max_length=10)),
                        ("policy_id", models.CharField(blank=True, default="", max_length=100)),
                        ("request_id", models.CharField(blank=True, default="", max_length=64)),
                        ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                     to="tenancy.tenant")),
                    ],
                    options={
                        "ordering": ["-timestamp", "-id"],
                        "indexes": [models.Index(fields=["tenant", "-timestamp", "-id"], name="audit_tenant_ts_idx")],
                    },
                ),
            ],
        ),
    ]

"""The audit log moves to the write path's own app (``write_path``): the table is renamed and
every row kept; the model leaves this app's state and enters ``write_path``'s
(write_path/migrations/0001_initial.py, which depends on this one)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orchestration", "0002_control_state"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="auditevent", table="write_path_auditevent"),
            ],
            state_operations=[
                migrations.DeleteModel(name="AuditEvent"),
            ],
        ),
    ]

"""A session id becomes unique within its tenant instead of across all tenants.

Sessions gain a surrogate primary key (``pk_id``), numbered in the order the sessions started;
their events, timeline entries and task links are re-pointed at it before the old foreign keys
(on the string id) go. The string ``id`` stays, now unique together with the tenant. Every row
is kept; new sessions continue the numbering.

Going back works while no two tenants share a session id (the string id is the primary key
again then)."""

from django.core.management.color import no_style
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

import orchestration.work.models

CHILDREN = {"sessiontask": "task_links", "sessionevent": "events", "sessiontimelineevent": "timeline"}
_BATCH = 1000


def number_sessions(apps, schema_editor):
    Session = apps.get_model("orchestration", "Session")
    if schema_editor.connection.vendor == "postgresql":
        table = schema_editor.quote_name(Session._meta.db_table)
        schema_editor.execute(
            f"UPDATE {table} SET pk_id = n.rn FROM (SELECT id, row_number() OVER (ORDER BY started_at, id) AS rn "
            f"FROM {table}) AS n WHERE {table}.id = n.id")
        return
    ids = Session.objects.order_by("started_at", "id").values_list("id", flat=True)
    batch = []
    for n, session_id in enumerate(ids.iterator(chunk_size=_BATCH), start=1):
        batch.append(Session(id=session_id, pk_id=n))
        if len(batch) == _BATCH:
            Session.objects.bulk_update(batch, ["pk_id"])
            batch = []
    Session.objects.bulk_update(batch, ["pk_id"])


def _copy_from_sessions(apps, schema_editor, *, into, matched, on, value):
    """Sets each child's ``into`` column to its session's ``value`` column, the session found by
    ``session.on = child.matched``: one joined UPDATE on PostgreSQL (going back, ``on`` has no
    index, so a per-row subquery would scan the sessions once per child), a subquery elsewhere."""
    Session = apps.get_model("orchestration", "Session")
    for name in CHILDREN:
        Child = apps.get_model("orchestration", name)
        if schema_editor.connection.vendor == "postgresql":
            q = schema_editor.quote_name
            child, session = q(Child._meta.db_table), q(Session._meta.db_table)
            schema_editor.execute(f"UPDATE {child} SET {q(into)} = s.{q(value)} FROM {session} AS s "
                                  f"WHERE s.{q(on)} = {child}.{q(matched)}")
            continue
        Child.objects.update(**{into: Subquery(
            Session.objects.filter(**{on: OuterRef(matched)}).values(value)[:1])})


def repoint_children(apps, schema_editor):
    _copy_from_sessions(apps, schema_editor, into="session_new", matched="session_id", on="id", value="pk_id")


def restore_children(apps, schema_editor):
    _copy_from_sessions(apps, schema_editor, into="session_id", matched="session_new", on="pk_id", value="id")


def _primary_key_on(column):
    """On PostgreSQL the key cannot move in place: AlterField creates the new primary key
    while the old one stands, and drops whichever stands when a field stops being the key.
    So the key is dropped before the move and put on ``column`` (None: none) after it;
    SQLite rebuilds the table for each step and needs neither."""

    def run(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        table = apps.get_model("orchestration", "Session")._meta.db_table
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        for name, info in constraints.items():
            if info["primary_key"]:
                schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} "
                                      f"DROP CONSTRAINT {schema_editor.quote_name(name)}")
        if column is not None:
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} "
                                  f"ADD PRIMARY KEY ({schema_editor.quote_name(column)})")

    return run


def continue_numbering(apps, schema_editor):
    """The identity column starts at 1 on PostgreSQL: move it past the numbers given above."""
    Session = apps.get_model("orchestration", "Session")
    for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [Session]):
        schema_editor.execute(sql)


def _children_point_at_the_new_key():
    for name, related_name in CHILDREN.items():
        yield migrations.AlterField(
            model_name=name, name="session_new",
            field=models.ForeignKey(on_delete=models.deletion.CASCADE, related_name=related_name,
                                    to="orchestration.session"))
        yield migrations.RenameField(model_name=name, old_name="session_new", new_name="session")


class Migration(migrations.Migration):
    dependencies = [
        ("orchestration", "0004_task_session_versions"),
    ]

    operations = [
        migrations.AddField(model_name="session", name="pk_id", field=models.BigIntegerField(null=True)),
        migrations.RunPython(number_sessions, migrations.RunPython.noop),
        *(migrations.AddField(model_name=name, name="session_new", field=models.BigIntegerField(null=True))
          for name in CHILDREN),
        # Nullable first, so that going back can re-add the old column and fill it in.
        migrations.RemoveConstraint(model_name="sessiontask", name="uniq_session_task"),
        *(migrations.AlterField(model_name=name, name="session", field=models.ForeignKey(
            null=True, on_delete=models.deletion.CASCADE, related_name=related_name, to="orchestration.session"))
          for name, related_name in CHILDREN.items()),
        migrations.RunPython(repoint_children, restore_children),
        *(migrations.RemoveField(model_name=name, name="session") for name in CHILDREN),
        # The key moves in three steps, so that no state holds an auto field that is not the
        # primary key (SQLite cannot create one when going back).
        migrations.RunPython(_primary_key_on(None), _primary_key_on("id")),
        migrations.AlterField(model_name="session", name="pk_id",
                              field=models.BigIntegerField(primary_key=True, serialize=False)),
        migrations.AlterField(model_name="session", name="id",
                              field=models.CharField(default=orchestration.work.models._session_id, max_length=40)),
        migrations.AlterField(model_name="session", name="pk_id",
                              field=models.BigAutoField(primary_key=True, serialize=False)),
        migrations.RunPython(_primary_key_on("pk_id"), _primary_key_on(None)),
        migrations.RunPython(continue_numbering, migrations.RunPython.noop),
        *_children_point_at_the_new_key(),
        migrations.AddConstraint(model_name="sessiontask", constraint=models.UniqueConstraint(
            fields=("session", "task"), name="uniq_session_task")),
        migrations.AddConstraint(model_name="session", constraint=models.UniqueConstraint(
            fields=("tenant", "id"), name="uniq_session_tenant_id")),
    ]

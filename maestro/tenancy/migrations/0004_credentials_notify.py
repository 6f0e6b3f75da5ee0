"""PostgreSQL tells every web process when a credential changes (maestro.tenancy.credential_cache).

A change to a user, a tenant or a membership, and any change to an API token other than its
last-use stamp, sends ``NOTIFY maestro_credentials`` when it commits, whoever makes it (a
service, the admin, a shell, SQL by hand). Each web process listens and forgets the tokens it
had read. ``maestro_credentials_seq`` numbers the barriers a writer sends after its commit to
learn that every listener has caught up."""

from django.conf import settings
from django.db import migrations

FUNCTION = r"""
CREATE SEQUENCE IF NOT EXISTS maestro_credentials_seq;
CREATE OR REPLACE FUNCTION maestro_credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('maestro_credentials', '');
    RETURN NULL;
END $$;
"""


def _triggers(user_table: str) -> str:
    statements = []
    for table, events in ((user_table, "UPDATE OR DELETE OR TRUNCATE"),
                          ("tenancy_tenant", "UPDATE OR DELETE OR TRUNCATE"),
                          ("tenancy_membership", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
                          ("tenancy_apitoken", "DELETE OR TRUNCATE")):
        statements.append(f"CREATE TRIGGER maestro_credentials_changed AFTER {events} ON {table} "
                          "FOR EACH STATEMENT EXECUTE FUNCTION maestro_credentials_changed();")
    # A token's row changes once a minute while it is used (last_used_at): that is no news.
    statements.append(
        "CREATE TRIGGER maestro_credentials_token_changed AFTER UPDATE ON tenancy_apitoken FOR EACH ROW "
        "WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at')) "
        "EXECUTE FUNCTION maestro_credentials_changed();")
    return "\n".join(statements)


def _drop(user_table: str) -> str:
    tables = (user_table, "tenancy_tenant", "tenancy_membership", "tenancy_apitoken")
    return "\n".join([f"DROP TRIGGER IF EXISTS maestro_credentials_changed ON {table};" for table in tables] + [
        "DROP TRIGGER IF EXISTS maestro_credentials_token_changed ON tenancy_apitoken;",
        "DROP FUNCTION IF EXISTS maestro_credentials_changed();",
        "DROP SEQUENCE IF EXISTS maestro_credentials_seq;"])


def _user_table(apps) -> str:
    return apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION + _triggers(_user_table(apps)), None)  # None: no %-placeholders


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_drop(_user_table(apps)), None)


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0003_oidc_identity"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

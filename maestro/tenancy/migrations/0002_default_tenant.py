from django.db import migrations


def create_default_tenant(apps, schema_editor):
    # DESIGN §4.3: tenant `default` always exists.
    Tenant = apps.get_model("tenancy", "Tenant")
    Tenant.objects.get_or_create(slug="default", defaults={"name": "Default"})


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]
    operations = [migrations.RunPython(create_default_tenant, migrations.RunPython.noop)]

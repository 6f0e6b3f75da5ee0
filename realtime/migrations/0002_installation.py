import secrets

from django.db import migrations, models


def make_identity(apps, schema_editor):
    Installation = apps.get_model("realtime", "Installation")
    Installation.objects.get_or_create(pk=1, defaults={"key": secrets.token_hex(8)})


class Migration(migrations.Migration):

    dependencies = [
        ("realtime", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Installation",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("key", models.CharField(max_length=32)),
            ],
        ),
        migrations.RunPython(make_identity, migrations.RunPython.noop),
    ]

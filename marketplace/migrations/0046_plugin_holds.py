import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0045_plugin_approved_root"),
    ]

    # Set by each marketplace's next sync, which reads every plugin again (reader 14).
    operations = [
        migrations.AddField(
            model_name="plugin",
            name="holds",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=200), blank=True, default=list, editable=False, size=None
            ),
        ),
    ]

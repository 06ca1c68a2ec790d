from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0045_plugin_approved_root"),
    ]

    # Set by each marketplace's next sync, which reads every plugin again (reader 14).
    operations = [
        migrations.AddField(
            model_name="plugin",
            name="holds_others",
            field=models.BooleanField(default=False, editable=False),
        ),
    ]

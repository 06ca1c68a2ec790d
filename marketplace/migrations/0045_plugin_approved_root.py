from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0044_skill_name_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="plugin",
            name="approved_root",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        # The folder at the approved commit was not kept: as last synced, what publishing and the curated catalogue
        # read until now.
        migrations.RunSQL("UPDATE marketplace_plugin SET approved_root = root WHERE approved_commit <> ''",
                          migrations.RunSQL.noop),
    ]

"""Plugin.root: its folder in its source repository, so a plugin at the top of the marketplace's
repository is pinned only while the other plugins' skills it holds are approved (approval.settle)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0025_plugin_own_content_kept'),
    ]

    operations = [
        migrations.AddField(
            model_name='plugin',
            name='root',
            field=models.TextField(blank=True, editable=False, null=True),
        ),
    ]

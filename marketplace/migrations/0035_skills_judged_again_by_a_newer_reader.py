"""The reader that last read each marketplace. Those already stored start at 0, older than any reader, so
the first sync after this upgrade reads and judges every skill again (sync._rejudge)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0034_plugin_readme_html'),
    ]

    operations = [
        migrations.AddField(
            model_name='marketplace',
            name='reader_version',
            field=models.PositiveSmallIntegerField(default=0, editable=False, help_text='The reader (reader.READER_VERSION) that last read and judged the skills: a sync by a newer one reads and judges each again.'),
        ),
    ]

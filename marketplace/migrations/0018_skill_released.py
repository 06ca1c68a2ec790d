"""Skill.approved is Skill.released: the served revision is released to members. "Approved" also
named a curation state, a revision status and admin actions. The column is renamed, its values kept."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0017_plugin_readme'),
    ]

    operations = [
        migrations.RenameField(
            model_name='skill',
            old_name='approved',
            new_name='released',
        ),
    ]

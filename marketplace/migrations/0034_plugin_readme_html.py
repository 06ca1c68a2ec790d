"""A plugin's README rendered by the sync, as a skill's body is (migration 0012), not on each view of
its page; those already stored are rendered here."""
from django.db import migrations, models


def render_stored_readmes(apps, schema_editor):
    from marketplace.rendering import render

    Plugin = apps.get_model("marketplace", "Plugin")
    for plugin in Plugin.objects.exclude(readme="").only("pk", "readme").iterator(chunk_size=500):
        Plugin.objects.filter(pk=plugin.pk).update(readme_html=render(plugin.readme))


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0033_render_bodies_past_max_elements'),
    ]

    operations = [
        migrations.AddField(
            model_name='plugin',
            name='readme_html',
            field=models.TextField(blank=True, editable=False, help_text='The README rendered by the sync, sanitised when shown (rendering.shown).'),
        ),
        migrations.AlterField(
            model_name='skill',
            name='body_html',
            field=models.TextField(blank=True, editable=False, help_text='The body rendered by the sync, sanitised when shown (rendering.shown).'),
        ),
        migrations.RunPython(render_stored_readmes, migrations.RunPython.noop, elidable=True),
    ]

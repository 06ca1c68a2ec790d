"""Marketplace.catalogue_name: the name its curated catalogue goes by, unique (Claude Code keeps one
marketplace per name). Existing marketplaces keep the name they were served by where it is theirs alone;
a later one (by id) sharing it goes by its slug."""
import itertools

from django.db import migrations, models


def name_catalogues(apps, schema_editor):
    Marketplace = apps.get_model("marketplace", "Marketplace")
    taken = set()
    for marketplace in Marketplace.objects.order_by("pk"):
        slug = marketplace.slug
        candidates = itertools.chain((marketplace.name or slug, slug), (f"{slug}-{n}" for n in itertools.count(2)))
        marketplace.catalogue_name = next(name for name in candidates if name not in taken)
        taken.add(marketplace.catalogue_name)
        marketplace.save(update_fields=["catalogue_name"])


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0021_searchword")]

    operations = [
        migrations.AddField(model_name="marketplace", name="catalogue_name",
                            field=models.CharField(max_length=220, null=True, editable=False)),
        migrations.RunPython(name_catalogues, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="marketplace", name="catalogue_name",
            field=models.CharField(
                max_length=220, unique=True, editable=False,
                help_text="The name Claude Code knows its curated catalogue by: the catalogue's name, or the slug "
                          "where another marketplace here has that name.")),
    ]

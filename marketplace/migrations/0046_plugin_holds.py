import django.contrib.postgres.fields
from django.db import migrations, models

# What each marketplace's next sync (reader 14) sets, as near as the rows tell it, so that a plugin at the top of a
# repository stops handing over the others' files from the deploy on, not from that sync: the other plugins read at
# the same commit whose folder, or a skill's folder, lies in its folder ("" is the top, a skill's "." too); past 100,
# "*" (snapshot.MOST_HELD, HOLDS_TOO_MANY). Plugins not read (no folder) hold nothing. Two sources at one commit are
# taken as one repository, as they hold the same files; what the rows cannot tell (a plugin too long to store) the
# sync adds. Each folder is joined to the plugins at it or at a folder above it, its prefixes kept apart (MATERIALIZED)
# so that PostgreSQL hashes them: comparing every folder with every plugin's folder of its marketplace took 7 s at
# 20,000 skills (bench/sync.py --scale 10) and grows with the square of a marketplace; this, 1.1 s.
BACKFILL = """
WITH folders AS (
    SELECT marketplace_id, "commit", root AS folder, name
    FROM marketplace_plugin WHERE removed_at IS NULL AND root IS NOT NULL
    UNION
    SELECT plugin.marketplace_id, plugin."commit", CASE skill.path WHEN '.' THEN '' ELSE skill.path END, plugin.name
    FROM marketplace_skill skill JOIN marketplace_plugin plugin ON plugin.id = skill.plugin_id
    WHERE skill.removed_at IS NULL AND plugin.removed_at IS NULL AND plugin.root IS NOT NULL
), above AS MATERIALIZED (
    SELECT folders.marketplace_id, folders."commit", folders.name, array_to_string(parts[1:depth], '/') AS folder
    FROM folders, string_to_array(folders.folder, '/') AS parts, generate_series(0, cardinality(parts)) AS depth
), held AS (
    SELECT plugin.id, array_agg(DISTINCT above.name ORDER BY above.name) AS names
    FROM marketplace_plugin plugin JOIN above
        ON above.marketplace_id = plugin.marketplace_id AND above."commit" = plugin."commit"
        AND above.folder = plugin.root AND above.name <> plugin.name
    WHERE plugin.removed_at IS NULL AND plugin.root IS NOT NULL
    GROUP BY plugin.id
)
UPDATE marketplace_plugin SET holds = CASE WHEN cardinality(held.names) > 100 THEN ARRAY['*'] ELSE held.names END
FROM held WHERE marketplace_plugin.id = held.id
"""


class Migration(migrations.Migration):

    dependencies = [
        ("marketplace", "0045_plugin_approved_root"),
    ]

    operations = [
        migrations.AddField(
            model_name="plugin",
            name="holds",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=200), blank=True, default=list, editable=False, size=None
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]

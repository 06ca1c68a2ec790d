"""The catalogue version: one counter PostgreSQL bumps with every write to marketplaces, plugins
and skills, so cached pages keyed by it (marketplace/caching.py) can never outlive a change.

Statement-level triggers, so a bulk sync of thousands of rows bumps it once per statement, not per
row. The bump is an UPDATE of one row inside the writing transaction: readers see the new number
exactly when they see the new data. (Concurrent writers queue on that row until the first commits;
writes here are syncs, one per marketplace at a time, and admin edits.) The upsert recreates the
row if a test run's flush emptied the table.
"""
from django.db import migrations, models

TABLES = ("marketplace_marketplace", "marketplace_plugin", "marketplace_skill")

FORWARD = """
CREATE FUNCTION marketplace_bump_catalogue_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace_catalogueversion (id, number) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET number = marketplace_catalogueversion.number + 1;
    RETURN NULL;
END
$$;
INSERT INTO marketplace_catalogueversion (id, number) VALUES (1, 1);
""" + "".join(f"""
CREATE TRIGGER catalogue_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_bump_catalogue_version();
""" for table in TABLES)

BACKWARD = "".join(f"DROP TRIGGER IF EXISTS catalogue_changed ON {table};\n" for table in TABLES) + """
DROP FUNCTION IF EXISTS marketplace_bump_catalogue_version();
"""


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0006_policy")]
    operations = [
        migrations.CreateModel(
            name="CatalogueVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]

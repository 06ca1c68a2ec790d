"""The search words' UPDATE trigger (0021) plans its statement for the rows each UPDATE changed.

PL/pgSQL plans a function's statements once per connection and keeps the plan, made for the
transition tables of the first statement that fired the trigger: most often a row or two, for which
a nested loop joins the old rows to the new most cheaply. The same plan over 16,385 rows compared
each old row with every new one: refreshing that many skills' scan verdicts, on a connection that
had updated one skill before, took 47 s instead of 0.7 (tests/test_large_marketplaces.py). EXECUTE
plans the statement each time, for the rows at hand, at a fraction of a millisecond per UPDATE.
"""
from importlib import import_module

from django.db import migrations

WORDS = import_module("marketplace.migrations.0021_searchword").WORDS

# The words of the rows whose name, display name or description changed: most updates (removal
# stamps, scans, readers) change none, and reading the words of every row costs ~60 µs each.
CHANGED = f"""
        WITH changed AS MATERIALIZED (
            SELECT n.name, n.display_name_override, n.description
            FROM new_skills n JOIN old_skills o ON o.id = n.id
            WHERE (n.name, n.display_name_override, n.description)
                  IS DISTINCT FROM (o.name, o.display_name_override, o.description)
        )
        INSERT INTO marketplace_searchword (word) {WORDS.format('changed')} ON CONFLICT DO NOTHING"""


def function(on_update: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION marketplace_add_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO marketplace_searchword (word) {WORDS.format('new_skills')} ON CONFLICT DO NOTHING;
    ELSE
        {on_update};
    END IF;
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0027_plugin_scan_held_hash")]
    operations = [
        migrations.RunSQL(function(f"EXECUTE $changed${CHANGED}$changed$"), function(CHANGED)),
    ]

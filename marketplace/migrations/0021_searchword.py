"""The search's words (SearchWord): every word of the skills' names, display names and descriptions,
for the typo path to correct misspelt words against (marketplace/search.py).

Statement-level triggers with transition tables, like the catalogue version's (0007): a sync's COPY
of thousands of skills adds their words in one INSERT. An UPDATE adds the words of the rows whose
text changed; most updates (removal stamps, scans, readers) change none. The words are
inserted in order, so two syncs adding the same new words cannot deadlock.
"""
import django.contrib.postgres.indexes
from django.db import migrations, models

# The words of the skills in {0}, lowercased and unstemmed: the lexemes of the 'simple'
# configuration, as pg_trgm's documentation builds its table of words. Only plain words: the parser
# also gives hyphenated compounds, paths and addresses whole, and a correction is one word.
WORDS = (
    "SELECT DISTINCT word FROM {0} s, unnest(tsvector_to_array(to_tsvector('simple', "
    "concat_ws(' ', s.name, s.display_name_override, s.description)))) AS word WHERE word ~ '^\\w+$' ORDER BY 1"
)

FORWARD = f"""
CREATE FUNCTION marketplace_add_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO marketplace_searchword (word) {WORDS.format('new_skills')} ON CONFLICT DO NOTHING;
    ELSE
        -- The changed rows first: reading the words of every row costs ~60 us each.
        WITH changed AS MATERIALIZED (
            SELECT n.name, n.display_name_override, n.description
            FROM new_skills n JOIN old_skills o ON o.id = n.id
            WHERE (n.name, n.display_name_override, n.description)
                  IS DISTINCT FROM (o.name, o.display_name_override, o.description)
        )
        INSERT INTO marketplace_searchword (word) {WORDS.format('changed')} ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER search_words_added AFTER INSERT ON marketplace_skill
    REFERENCING NEW TABLE AS new_skills
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_add_search_words();
CREATE TRIGGER search_words_changed AFTER UPDATE ON marketplace_skill
    REFERENCING OLD TABLE AS old_skills NEW TABLE AS new_skills
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_add_search_words();
INSERT INTO marketplace_searchword (word) {WORDS.format('marketplace_skill')};
"""

BACKWARD = """
DROP TRIGGER IF EXISTS search_words_added ON marketplace_skill;
DROP TRIGGER IF EXISTS search_words_changed ON marketplace_skill;
DROP FUNCTION IF EXISTS marketplace_add_search_words();
"""


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0020_merge_contributors_released_indexes")]
    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[("word", models.TextField(primary_key=True, serialize=False))],
            options={"indexes": [django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass("word", name="gin_trgm_ops"), name="searchword_word_trgm")]},
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]

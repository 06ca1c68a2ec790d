"""Rows a sync stored before it refused names some checkout will not write (marketplace.tree.is_clean_path):
the folders git reads as its own (`.git`, `.GIT`, `git~1`, `.g<U+200C>it`), and what Git for Windows refuses
(device names such as `aux.md`, the characters < > : " | ? *, a name ending in a dot or a space).
Packages, provenance and publishing leave such rows out already; the connector and the web pages
listed them. A sync now reports the name instead of storing it, so these rows go: what is stored is
what a sync would store today. Their marketplaces forget the last sync's fingerprint, so the next
sync reads them again rather than finding nothing changed, and reports each name on its skill.

The patterns are tree.py's as of this migration, written for PostgreSQL's regular expressions.
"""
from django.db import migrations

IGNORED = r"[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]*"
DOT_GIT = rf"{IGNORED}(\.{IGNORED}g{IGNORED}i{IGNORED}t|git~1){IGNORED}"
DEVICE = r"(con|prn|aux|nul|com[1-9]|lpt[1-9]|conin\$|conout\$)(\.[^/]*)?"
REFUSED = rf"(^|/)({DOT_GIT}|{DEVICE})(/|$)|[<>:\"|?*]|[. ](/|$)"


def forwards(apps, schema_editor):
    tables = {name: apps.get_model("marketplace", name)._meta.db_table for name in ("SkillFile", "Skill", "Marketplace")}
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            WITH gone AS (DELETE FROM {tables["SkillFile"]} WHERE path ~* %s RETURNING skill_id)
            UPDATE {tables["Marketplace"]} SET last_sync_fingerprint = ''
            WHERE id IN (SELECT marketplace_id FROM {tables["Skill"]} WHERE id IN (SELECT skill_id FROM gone))
        """, [REFUSED])


class Migration(migrations.Migration):

    dependencies = [("marketplace", "0028_search_words_planned_per_update")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]

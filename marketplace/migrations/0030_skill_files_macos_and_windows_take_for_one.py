"""Rows a sync stored before it refused names macOS and Windows take for one another in a folder
(`SKILL.md` and `Skill.md`, `café` composed and decomposed: marketplace.tree.same_names). Unpacked
or checked out there, the later file overwrites the earlier, so what a member's Claude loads need
not be what Skillport showed, scanned and had approved. A sync now reads neither and says so; these
rows go, and their marketplaces sync again, as in 0029.

The rule is tree.same_name_key's as of this migration.
"""
import unicodedata

from django.db import migrations


def _key(name):
    return name.lower() if name.isascii() else unicodedata.normalize("NFC", name).casefold()


def _clashing(paths):
    """The paths of `paths` under a name another name of the same folder matches."""
    names = {}  # (folder, key) -> names
    for path in paths:
        parts = path.split("/")
        for depth, name in enumerate(parts):
            folder = "/".join(parts[:depth])
            names.setdefault((folder, _key(name)), set()).add(name)
    gone = {f"{folder}/{name}" if folder else name
            for (folder, _key_), found in names.items() if len(found) > 1 for name in found}
    below = tuple(f"{path}/" for path in gone)
    return [path for path in paths if path in gone or path.startswith(below)]


def remove_rows(apps, refused):
    """Delete each skill's rows `refused(its paths)` names, and have their marketplaces sync again."""
    SkillFile = apps.get_model("marketplace", "SkillFile")
    Marketplace = apps.get_model("marketplace", "Marketplace")
    by_skill = {}
    for skill_id, path in SkillFile.objects.order_by().values_list("skill_id", "path").iterator(chunk_size=10_000):
        by_skill.setdefault(skill_id, []).append(path)
    for skill_id, paths in by_skill.items():
        if found := refused(paths):
            SkillFile.objects.filter(skill_id=skill_id, path__in=found).delete()
            Marketplace.objects.filter(skills__id=skill_id).update(last_sync_fingerprint="")


def forwards(apps, schema_editor):
    remove_rows(apps, _clashing)


class Migration(migrations.Migration):

    dependencies = [("marketplace", "0029_skill_files_no_checkout_holds")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]

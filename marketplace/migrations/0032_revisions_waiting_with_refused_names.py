"""Changes waiting for approval that a sync read before it refused the names 0029, 0030 and 0031 remove.
Those migrations removed the rows members are served, but a waiting revision keeps its own list of files, and
approving it would write them back. Each is superseded: nothing of it can be approved. Their marketplaces
forget the last sync's fingerprint, so the next sync reads the change again and stages it without those
names, reporting each on its skill; until then members keep the approved content, as while it waited.

The rules are those of 0029, 0030 and 0031, as they were written.
"""
import re
from importlib import import_module

from django.db import migrations

NO_CHECKOUT_HOLDS = re.compile(import_module(f"{__package__}.0029_skill_files_no_checkout_holds").REFUSED, re.I)
clashing = import_module(f"{__package__}.0030_skill_files_macos_and_windows_take_for_one")._clashing
windows_cannot_hold = import_module(f"{__package__}.0031_skill_files_windows_cannot_hold").refused


def holds_a_refused_name(paths):
    return any(NO_CHECKOUT_HOLDS.search(path) for path in paths) or clashing(paths) or windows_cannot_hold(paths)


def forwards(apps, schema_editor):
    SkillRevision = apps.get_model("marketplace", "SkillRevision")
    Skill = apps.get_model("marketplace", "Skill")
    Marketplace = apps.get_model("marketplace", "Marketplace")
    waiting = SkillRevision.objects.filter(status__in=["pending", "blocked"]).order_by()
    refused = [
        pk for pk, files in waiting.values_list("pk", "files").iterator(chunk_size=1_000)
        if holds_a_refused_name([f["path"] for f in files])
    ]
    if refused:
        Marketplace.objects.filter(skills__revisions__pk__in=refused).update(last_sync_fingerprint="")
        Skill.objects.filter(pending_revision__in=refused).update(pending_revision=None)
        SkillRevision.objects.filter(pk__in=refused).update(status="superseded", content={})


class Migration(migrations.Migration):

    dependencies = [("marketplace", "0031_skill_files_windows_cannot_hold")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]

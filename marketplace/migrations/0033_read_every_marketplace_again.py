"""Every marketplace forgets its last sync's fingerprint, so the next sync reads it again rather than finding
nothing changed: names it now refuses anywhere in a plugin (`unread-files`) are reported, and a plugin whose
approved commit holds them loses it (approval.settle) until a commit without them is synced. Rows and
waiting revisions were dealt with by 0029-0032; this is for what was never stored, such as a plugin's hooks.
"""
from django.db import migrations


def forwards(apps, schema_editor):
    apps.get_model("marketplace", "Marketplace").objects.update(last_sync_fingerprint="")


class Migration(migrations.Migration):

    dependencies = [("marketplace", "0032_revisions_waiting_with_refused_names")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]

"""Rows a sync stored before it refused two more kinds of name Windows cannot hold as they are:

- a name shaped like the short (8.3) name Windows gives a long name beside it (`deploy~1.sh` beside
  `deploy-production.sh`: marketplace.tree's "short-name"). Written on Windows, such a file opens the long
  one: unzipping a package overwrites it, a checkout deletes it;
- device names 0029's pattern missed (`lpt0`, `com¹`, `aux .md`, a space before the extension): Git for
  Windows refuses to check out a repository holding some, and fails on the file for the rest.

These rows go, and their marketplaces sync again, as in 0029 and 0030. The rules are tree.py's as of this
migration.
"""
import re
from importlib import import_module

from django.db import migrations

remove_rows = import_module(f"{__package__}.0030_skill_files_macos_and_windows_take_for_one").remove_rows

_CHARACTER = r"[a-z0-9!#$%&'()@^_`{}~-]"
SHORT_NAME = re.compile(rf"{_CHARACTER}{{1,8}}(?:\.{_CHARACTER}{{1,3}})?", re.IGNORECASE)
GENERATED = re.compile(r"[^.]{1,6}~[0-9]+(?:\.[^.]{1,3})?")
DEVICE = re.compile(r"(^|/)(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$) *(\.[^/]*)?(/|$)", re.I)


def refused(paths):
    """The paths of `paths` under a device name, or a short name's form beside a name Windows gives one."""
    names = {}  # folder -> its names
    for path in paths:
        parts = path.split("/")
        for depth, name in enumerate(parts):
            names.setdefault("/".join(parts[:depth]), set()).add(name)
    gone = {
        f"{folder}/{name}" if folder else name
        for folder, found in names.items() if any(not SHORT_NAME.fullmatch(other) for other in found)
        for name in found if "~" in name and GENERATED.fullmatch(name)
    }
    below = tuple(f"{path}/" for path in gone)
    return [path for path in paths if path in gone or path.startswith(below) or DEVICE.search(path)]


def forwards(apps, schema_editor):
    remove_rows(apps, refused)


class Migration(migrations.Migration):

    dependencies = [("marketplace", "0030_skill_files_macos_and_windows_take_for_one")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]

"""Check an installed skill folder against what Skillport serves for that skill, file by file."""
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from marketplace import lookup, provenance
from marketplace.models import Skill, SkillFile

# Written into a .skill package beside the skill's files (packaging.plugin_manifest), not served as one of them.
PLUGIN_JSON = ".claude-plugin/plugin.json"


class Command(BaseCommand):
    help = ("Recompute the provenance manifest of PATH (an unzipped .skill, or a skill's folder in an installed "
            "plugin) and compare it with what Skillport serves for that skill. Exits 1 when they differ.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="The skill's folder (the one holding SKILL.md).")
        parser.add_argument("--skill", help="marketplace/plugin/skill; by default read from the folder's "
                                            f"{PLUGIN_JSON} (`skillport` key), which .skill packages carry.")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, path, skill, as_json, **options):
        root = Path(path)
        if not (root / "SKILL.md").is_file():
            raise CommandError(f"{path} is not a skill folder: it has no SKILL.md.")
        installed = _installed_from(root)
        skill = _find(skill or installed.get("identifier"))
        served_now = provenance.of(skill)
        served = {entry["path"]: entry for entry in served_now["files"]}
        found = provenance.folder(root)
        # What Skillport knows of but never served (over its size limits) is not checked; nor is
        # the plugin.json a package adds.
        unchecked = set(SkillFile.objects.filter(skill=skill, blob__isnull=True).values_list("path", flat=True))
        if PLUGIN_JSON not in served:
            unchecked.add(PLUGIN_JSON)
        report = {
            "skill": skill.identifier,
            "served_digest": served_now["digest"],
            "folder_digest": provenance.digest_of((p, sha256) for p, (_size, sha256) in found.items()
                                                  if p not in unchecked),
            "missing": sorted(set(served) - set(found)),
            "changed": sorted(p for p in set(served) & set(found)
                              if (served[p]["size"], served[p]["digest"])
                              != (found[p][0], provenance.PREFIX + found[p][1])),
            "unexpected": sorted(set(found) - set(served) - unchecked),
            "not_checked": sorted(unchecked & set(found)),
        }
        report["ok"] = report["served_digest"] == report["folder_digest"]
        if installed.get("content_hash") and installed["content_hash"] != skill.content_hash:
            report["note"] = "Skillport now serves another revision of this skill than the package was built from."
        self.stdout.write(json.dumps(report, indent=2) if as_json else _text(report))
        if not report["ok"]:
            sys.exit(1)


def _installed_from(root: Path) -> dict:
    """What a .skill package's plugin.json says it holds: {identifier, content_hash}, or {}."""
    try:
        tie = json.loads((root / PLUGIN_JSON).read_text())["skillport"]
        return {"identifier": f"{tie['marketplace']}/{tie['plugin']}/{tie['skill']}",
                "content_hash": tie.get("content_hash")}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _find(identifier) -> Skill:
    if not identifier:
        raise CommandError(f"Which skill is this? Its folder has no {PLUGIN_JSON} naming it: "
                           "give --skill marketplace/plugin/skill.")
    try:
        return lookup.find_skill(Skill.objects.filter(removed_at=None), identifier)
    except LookupError as error:
        raise CommandError(str(error)) from None


def _text(report) -> str:
    lines = [f"{report['skill']}: {'matches' if report['ok'] else 'DOES NOT MATCH'} what Skillport serves",
             f"  served {report['served_digest']}", f"  folder {report['folder_digest']}"]
    for key, label in (("changed", "changed"), ("missing", "missing"), ("unexpected", "not served by Skillport"),
                       ("not_checked", "not checked (not a file Skillport serves)")):
        lines += [f"  {label}: {path}" for path in report[key]]
    if report.get("note"):
        lines.append(f"  {report['note']}")
    return "\n".join(lines)

"""Are installed skills up to date? Shared by the connector's check_updates and the REST API.

1. Each installed name is looked up among the skills the user may see, then among plugins
   (a plugin name stands for all of its skills).
2. The current version is what the user is served: under an approval policy, the last approved one.
3. When both versions are semantic versions they are compared as such; otherwise the installed
   version (or the commit or content hash the package recorded) must equal the current one.
4. Whatever is behind is reported with the full name `install_skill` takes.
"""
import semver

from . import lookup
from .models import Plugin, Skill


# Every status a result can have.
STATUSES = ["up_to_date", "update_available", "unknown_version", "not_found", "ambiguous"]


def _semver(value):
    try:
        return semver.Version.parse(str(value).strip().removeprefix("v"))
    except (TypeError, ValueError):
        return None


def served(skill) -> tuple[str, str]:
    """(version, commit) of what the user is served. While anything of the plugin awaits approval, or was
    refused it (rejected, or blocked by the security scan), the plugin has moved on but members still get
    the skill's last approved revision, and approval.settle holds the plugin's approved commit back: so
    only then are the skill's revisions read. That is so whether the change is the skill's own or not:
    a push that gave the plugin.json a new version waits too, and its version is not yet members'."""
    plugin = skill.plugin
    if skill.pending_revision_id or plugin.approved_commit != plugin.commit:
        approved = skill.revisions.approved().first()
        if approved is not None:
            return approved.version, approved.commit
    return plugin.version, plugin.commit


def _status(skill, installed: dict, current: str, commit: str) -> str:
    version = str(installed.get("version") or "").strip()
    new, old = _semver(current), _semver(version)
    if new is not None and old is not None:
        return "update_available" if new > old else "up_to_date"
    known = {v for v in (current, commit, skill.content_hash) if v}
    recorded = {str(installed.get(k) or "").strip() for k in ("version", "commit", "content_hash")} - {""}
    if not recorded:
        return "unknown_version"
    # A short commit prefix counts: people paste abbreviated hashes.
    same = any(r == k or (len(r) >= 7 and k.startswith(r)) for r in recorded for k in known)
    return "up_to_date" if same else "update_available"


def _entry(skill, installed):
    current, commit = served(skill)
    return {
        "name": installed.get("name"), "skill": skill.identifier, "status": _status(skill, installed, current, commit),
        "installed_version": str(installed.get("version") or ""), "current_version": current,
        "commit": commit, "updated_at": skill.updated_at.isoformat(),
    }


def check(user, installed: list[dict]) -> list[dict]:
    visible = Skill.objects.visible_to(user).select_related("plugin", "marketplace")
    results = []
    for item in installed:
        name = str(item.get("name") or "")
        try:
            skills = [lookup.find_skill(visible, name)]
        except lookup.Ambiguous as error:
            results.append({"name": name, "status": "ambiguous", "choices": error.choices, "message": str(error)})
            continue
        except lookup.NotFound:
            try:
                plugin = lookup.find_plugin(Plugin.objects.visible_to(user), name) if name.strip() else None
            except lookup.Ambiguous as error:
                results.append({"name": name, "status": "ambiguous", "choices": error.choices, "message": str(error)})
                continue
            skills = list(visible.filter(plugin=plugin).order_by("slug")) if plugin else []
        if not skills:
            results.append({"name": name, "status": "not_found",
                            "message": "Not in the catalogue, or not visible to you."})
            continue
        results.extend(_entry(skill, item) for skill in skills)
    return results


def install_ready(results) -> list[str]:
    return sorted({r["skill"] for r in results if r["status"] == "update_available"})

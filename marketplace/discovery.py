"""Where a plugin's skills are: Claude Code's discovery rules (FORMAT.md §3), as its 2.1.332 loader has them.

1. The scan reads `skills/*/SKILL.md`, one level deep; a `skills/SKILL.md` is the one skill there, and
   the folders beside it are not looked in. So is each folder listed below: a skill, or a folder of them.
2. plugin.json's `skills` lists folders besides the scan. Without that field and without a `skills/`
   folder, a `SKILL.md` at the plugin's root is its one skill.
3. The entry's `skills` list: with a plugin.json, its folders are added; without one, they replace the
   root's SKILL.md, when any of them exists.
4. For a plugin whose source is the marketplace's root (`./`), the entry's list, when any of it exists,
   replaces the scan too, whatever `strict` says, unless it lists `./skills/` or `./`; when none exists
   and one leaves the plugin, the plugin has no skills.
A path listed that does not exist is reported and left out; `skills/` itself is only ever scanned.
"""
from .manifest import component_paths
from .tree import Escape, join_inside


def skill_folders(tree, root, entry, plugin_json, at_marketplace_root, location, problems) -> list[str]:
    """The folders of the skills of the plugin at `root` of `tree`, with its marketplace `entry` and its
    `plugin_json` (None without one). plugin.json's paths must exist (Claude Code's validator refuses a
    plugin.json naming a skills path that is missing or a file); the entry's need not."""
    skills_dir = join_inside(root, "skills")
    declared, entry_paths = (plugin_json or {}).get("skills"), component_paths(entry.get("skills"))
    from_manifest, _ = _existing(tree, root, component_paths(declared), True, location, problems)
    from_entry, escaping = _existing(tree, root, entry_paths, False, location, problems)

    scan = tree.is_dir(skills_dir)
    if declared not in (None, ""):
        paths = [path for path in from_manifest if path != skills_dir]
    else:
        paths = [root] if not scan and _holds_skill_md(tree, root) else []
    if at_marketplace_root and entry_paths:
        if from_entry:
            scan = scan and (skills_dir in from_entry or root in from_entry)
            paths = [path for path in from_entry if path not in (skills_dir, root)]
        elif escaping:
            scan, paths = False, []
    added = [path for path in from_entry if path != skills_dir]
    if plugin_json is None:
        paths = added or paths
    else:
        paths += [path for path in added if path not in paths]

    folders = _skills_of(tree, skills_dir, location, problems) if scan else []
    for path in paths:
        folders += _skills_of(tree, path, location, problems)
    return list(dict.fromkeys(folders))


def _existing(tree, root, listed, in_manifest, location, problems) -> tuple[list[str], bool]:
    """The paths of `listed` that exist in the plugin (each problem reported), and whether one left it."""
    found, escaping = [], False
    for raw in listed:
        try:
            path = join_inside(root, raw)
        except Escape:
            problems.error("path-traversal", f"Path '{raw}' must stay inside the plugin", location)
            escaping = True
            continue
        if tree.is_dir(path) or tree.is_file(path):
            found.append(path)
        elif in_manifest:
            problems.error(
                "skills-path-missing",
                f"Skills path '{raw}' in plugin.json is not a folder holding SKILL.md or skill folders. Point it at "
                "a skill's folder (not its SKILL.md) or remove it",
                location,
            )
        else:
            problems.warning("skills-path-missing", f"Skills path '{raw}' was not found; remove it or fix the path",
                             location)
    return list(dict.fromkeys(found)), escaping


def _skills_of(tree, path, location, problems) -> list[str]:
    """What Claude Code reads at a skills path: the skill it is, or the skill folders in it."""
    return [path] if _holds_skill_md(tree, path) else _skills_in(tree, path, location, problems)


def _skills_in(tree, folder, location, problems) -> list[str]:
    if not tree.is_dir(folder):
        return []
    found = []
    for name in tree.listdir(folder):
        child = join_inside(folder, name)
        try:
            tree.kind(child)
        except Escape:
            problems.error("symlink-escape", f"Skill folder '{child}' is a symlink that leaves the repository; not read",
                           location)
            continue
        if _holds_skill_md(tree, child):
            found.append(child)
    return found


def _holds_skill_md(tree, folder) -> bool:
    """A SKILL.md, or one refused as the same name as another (Skill.md): a skill that cannot load, found
    so that the sync says why rather than losing it without a word."""
    return tree.is_file(join_inside(folder, "SKILL.md")) or tree.refused_in(folder).get("SKILL.md") == "same-name"

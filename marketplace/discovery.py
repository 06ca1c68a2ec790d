"""Where a plugin's skills are: Claude Code's discovery rules (FORMAT.md §3, as its 2.1.332 loader reads them).

1. The default scan finds `skills/*/SKILL.md`, one level deep; a `skills/SKILL.md` is the one skill
   there, and the folders beside it are not looked in.
2. A `skills` field (the entry's or plugin.json's) adds folders: a skill folder, or a folder of skill
   folders, read alike.
3. For a plugin whose source is the marketplace's root (`./`), the entry's `skills` list replaces the
   scan and plugin.json's list, whatever `strict` says: listing `./skills/` or `./` itself keeps the scan;
   when none of the listed paths exist, nothing is replaced, unless one leaves the plugin: then it has none.
4. A lone `SKILL.md` at the plugin root is a one-skill plugin only when there is no
   `skills/` folder and no `skills` field.
"""
from .tree import Escape, join_inside


def skill_folders(tree, root, entry_paths, manifest_paths, at_marketplace_root, location, problems) -> list[str]:
    """The folders of a plugin's skills. plugin.json's `manifest_paths` must exist (Claude Code's validator
    refuses a plugin.json naming a skills path that is missing or a file); the entry's need not."""
    skills_dir = join_inside(root, "skills")
    scan, escaping = True, False
    found = {}  # each listed path that exists, resolved: [its skill folders]
    for raw in [*manifest_paths, *entry_paths]:
        try:
            path = join_inside(root, raw)
        except Escape:
            problems.error("path-traversal", f"Path '{raw}' must stay inside the plugin", location)
            escaping = escaping or raw in entry_paths
            continue
        if _holds_skill_md(tree, path):
            found.setdefault(path, [path])
        elif tree.is_dir(path):
            found.setdefault(path, _skills_in(tree, path, location, problems))
        elif raw in manifest_paths:
            problems.error(
                "skills-path-missing",
                f"Skills path '{raw}' in plugin.json is not a folder holding SKILL.md or skill folders. Point it at "
                "a skill's folder (not its SKILL.md) or remove it",
                location,
            )
        else:
            problems.warning("skills-path-missing", f"Skills path '{raw}' was not found; remove it or fix the path",
                             location)
    listed = [path for raw in [*manifest_paths, *entry_paths] if (path := _inside(root, raw)) in found]
    if at_marketplace_root and entry_paths:
        replacing = [path for raw in entry_paths if (path := _inside(root, raw)) in found]
        if replacing:
            scan = skills_dir in replacing or root in replacing
            listed = [path for path in replacing if path not in (skills_dir, root)]
        elif escaping:
            scan, listed = False, []
    folders = []
    if scan:
        folders = [skills_dir] if _holds_skill_md(tree, skills_dir) else _skills_in(tree, skills_dir, location, problems)
    folders += [folder for path in listed for folder in found[path]]
    if not folders and not manifest_paths and not entry_paths and not tree.is_dir(skills_dir):
        if _holds_skill_md(tree, root):
            folders = [root]
    return list(dict.fromkeys(folders))


def _inside(root, raw):
    try:
        return join_inside(root, raw)
    except Escape:
        return None


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

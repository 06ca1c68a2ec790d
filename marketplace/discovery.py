"""Where a plugin's skills are: Claude Code's discovery rules (FORMAT.md §3).

1. The default scan finds `skills/*/SKILL.md`, one level deep; a `skills/SKILL.md` is the one skill
   there, and the folders beside it are not looked in (Claude Code 2.1.332's loader).
2. A `skills` field adds folders (a skill folder, or a folder of skill folders, alike).
3. For a marketplace-root source with `strict: false`, a `skills` list replaces the scan;
   listing `./skills/` itself keeps it; if none of the listed paths exist the scan runs.
4. A lone `SKILL.md` at the plugin root is a one-skill plugin only when there is no
   `skills/` folder and no `skills` field.
"""
from .tree import Escape, join_inside


def skill_folders(tree, root, listed_paths, replaces_scan, location, problems, manifest_paths=()) -> list[str]:
    """`manifest_paths`: those of `listed_paths` that plugin.json lists, which must exist (Claude
    Code's validator refuses a plugin.json naming a skills path that is missing or a file)."""
    skills_dir = join_inside(root, "skills")
    default = [skills_dir] if _holds_skill_md(tree, skills_dir) else _skills_in(tree, skills_dir, location, problems)
    listed, any_exists = [], False
    for raw in listed_paths:
        try:
            path = join_inside(root, raw)
        except Escape:
            problems.error("path-traversal", f"Path '{raw}' must stay inside the plugin", location)
            continue
        if _holds_skill_md(tree, path):
            listed.append(path)
            any_exists = True
        elif tree.is_dir(path):
            listed += _skills_in(tree, path, location, problems)
            any_exists = True
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

    if replaces_scan and listed_paths and any_exists:
        folders = listed
    else:
        folders = default + listed
    if not folders and not listed_paths and not tree.is_dir(join_inside(root, "skills")):
        if _holds_skill_md(tree, root):
            folders = [root]
    return list(dict.fromkeys(folders))


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

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
A path listed that does not exist is reported and left out; `skills/` itself is only ever scanned. So is one
leading into `.mcpb-cache`, and no folder of that name is scanned (tree.in_mcpb_cache). A SKILL.md over the size
Claude Code reads is skipped: where it would be the one skill of a path, the folders in that path are scanned.
"""
from .manifest import component_paths
from .tree import Escape, in_mcpb_cache, join_inside

# Claude Code's loader (2.1.332) skips a SKILL.md of more bytes: "exceeds 1048576 byte limit".
CLAUDE_CODE_SKILL_MD_BYTES = 1024 * 1024


def skill_folders(tree, root, entry, plugin_json, at_marketplace_root, location, problems) -> dict[str, bool]:
    """The folders of the skills of the plugin at `root` of `tree`, with its marketplace `entry` and its
    `plugin_json` (None without one), each with whether a skills path points at it directly (which names it:
    command). plugin.json's paths must exist (Claude Code's validator refuses a plugin.json naming a skills path
    that is missing or a file); the entry's need not."""
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

    folders = {}
    for path in ([skills_dir] if scan else []) + paths:
        for folder in _skills_of(tree, path, location, problems):
            folders.setdefault(folder, folder == path)
    return folders


def command(plugin_name: str, folder_name: str, name: str | None = None) -> str:
    """What Claude Code calls a skill of the plugin it knows as `plugin_name` (PluginData.claude_code_name), the name a
    person types and Claude is offered: `<plugin>:<skill>`, the skill its folder's name, or for a skill a skills path
    points at directly, the `name` it is known by (its frontmatter's, less a leading `<plugin>:`). Each character of
    it but ASCII letters, digits, _ and - is made -, twice for one past the BMP (JavaScript counts it as two)."""
    if name is not None:
        folder_name = name.removeprefix(f"{plugin_name}:") or folder_name
    return plugin_name + ":" + "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-" * (1 + (ord(c) > 0xFFFF))
                                       for c in folder_name)


def _existing(tree, root, listed, in_manifest, location, problems) -> tuple[list[str], bool]:
    """The paths of `listed` that exist in the plugin (each problem reported), and whether one left it."""
    found, escaping = [], False
    for raw in listed:
        try:
            path = join_inside(root, raw)
            if root and path != root and not path.startswith(f"{root}/"):
                raise Escape(raw)  # Claude Code (2.1.332) installs the plugin's folder alone: nothing above it loads
        except Escape:
            problems.error("path-traversal", f"Path '{raw}' must stay inside the plugin", location)
            escaping = True
            continue
        if in_mcpb_cache(path, root):
            report_mcpb_cache("skills", raw, in_manifest, location, problems)
            escaping = True
        elif tree.is_dir(path) or tree.is_file(path):
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


def report_mcpb_cache(key, raw, in_manifest, location, problems) -> None:
    """A component path of a plugin.json (`in_manifest`: its validator refuses it) or of an entry that leads into
    `.mcpb-cache`."""
    (problems.error if in_manifest else problems.warning)(
        "component-path-in-mcpb-cache",
        f"{key}: Path not loaded: '{raw}' leads into .mcpb-cache, where Claude Code unpacks the plugin's MCP bundles "
        "over what the folder holds, so it loads the plugin without it. Move it to another folder",
        location,
    )


def _skills_of(tree, path, location, problems) -> list[str]:
    """What Claude Code reads at a skills path: the skill it is, or the skill folders in it (also where its SKILL.md
    is too large to read)."""
    if _holds_skill_md(tree, path) and not too_large_for_claude_code(tree, join_inside(path, "SKILL.md")):
        return [path]
    return _skills_in(tree, path, location, problems)


def too_large_for_claude_code(tree, skill_md) -> bool:
    return tree.is_file(skill_md) and tree.kind(skill_md)[1].size > CLAUDE_CODE_SKILL_MD_BYTES


def _skills_in(tree, folder, location, problems) -> list[str]:
    if not tree.is_dir(folder):
        return []
    found = []
    for name in tree.listdir(folder):
        if in_mcpb_cache(name):
            continue
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

"""What a plugin installs besides its skills, as one digest: its hooks, commands, agents, MCP and LSP
servers, output styles and the scripts they run, which act in Claude Code as much as a skill does.

Skills have revisions an admin approves (approval.py). Under an approval policy the rest of a plugin
needs the same decision, or a push changing only hooks/hooks.json would reach every channel at the
next commit: `Plugin.own_hash` is this digest as synced, `approved_own_hash` what an admin approved,
and the commit the curated catalogue and publish targets pin (`approved_commit`) moves only while the
two agree (approval.settle). A plugin of skills alone has nothing else: its digest is "". The content
itself is kept beside each digest (`own_content`, `approved_own_content`), so the admin who decides
reads what changed (`changes`) rather than approving a digest. `served_own_hash` and `served_own_content`
are the content at the approved commit, what members get: the approved one may be newer while a skill waits.

Left out, as they change with every release and do nothing: the manifests' descriptive fields (name,
version, description, author, ...), the marketplace.json a plugin at the repository's top holds, and
its README, LICENSE and CHANGELOG.
"""
import hashlib
import json

from . import manifest

INERT_FILES = {".claude-plugin/plugin.json", ".claude-plugin/marketplace.json", "README.md", "LICENSE",
               "LICENSE.md", "LICENSE.txt", "CHANGELOG.md"}
NOT_CONTENT_KEYS = {"name", "source", "strict", "skills", *manifest.DISPLAY_KEYS}
MAX_KEPT_FILES = 1000
# The parts of the content that are declared rather than files, and where each is declared.
DECLARED = (("entry", "marketplace.json entry"), ("manifest", "plugin.json"))


def own_files(tree, root: str, skill_folders) -> list:
    """The files the plugin at `root` of `tree` installs besides skills (`skill_folders`, paths in the tree: every
    skill folder of the tree, its own and other plugins', reader._take_own_contents), as own_content lists them:
    the same for every plugin of that folder, so plugins sharing one (`"./"`) share one walk."""
    prefix = f"{root}/" if root else ""
    return sorted(
        [path.removeprefix(prefix), item.mode, item.sha] for path, item in _files(tree, root, set(skill_folders))
        if path.removeprefix(prefix) not in INERT_FILES
    )


def own_content(files: list, entry: dict, plugin_json: dict | None) -> dict:
    """What a plugin installs besides skills: {"files": [[path in the plugin, mode, blob sha], ...] (own_files),
    "entry": {...}, "manifest": {...}}, the entry's and plugin.json's keys that do something; {} for a plugin of
    skills alone."""
    declared = {
        "entry": {k: v for k, v in entry.items() if k not in NOT_CONTENT_KEYS},
        "manifest": {k: v for k, v in (plugin_json or {}).items() if k not in NOT_CONTENT_KEYS},
    }
    if not files and not declared["entry"] and not declared["manifest"]:
        return {}  # skills alone
    return {"files": files, **declared}


def kept(content: dict) -> dict:
    """`content` as the plugin's row keeps it: at most MAX_KEPT_FILES files, with how many there are
    in all when there are more (a plugin at the top of a large repository holds all of it). The
    digest is taken of the whole."""
    files = content.get("files", [])
    if len(files) <= MAX_KEPT_FILES:
        return content
    return {**content, "files": files[:MAX_KEPT_FILES], "files_total": len(files)}


def digest(content: dict) -> str:
    """`own_content`'s digest, "" for nothing: what an admin approves (`Plugin.approved_own_hash`)."""
    if not content:
        return ""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def listing(content: dict, most=50) -> list[str]:
    """What `own_content` installs, one line each: the keys of its marketplace.json entry and
    plugin.json that something reads (a hook or server declared there has no file), then its files,
    `most` of them and a line saying how many more."""
    declared = [f"\"{key}\" in its {where}" for part, where in DECLARED for key in sorted(content.get(part, {}))]
    files = [path for path, _mode, _sha in content.get("files", [])]
    more = content.get("files_total", len(files)) - min(len(files), most)
    return declared + files[:most] + ([f"and {more:,} more files"] if more > 0 else [])


def changes(approved: dict, current: dict) -> list[str]:
    """What differs between the content an admin approved and the content synced, in words, for the
    admin who decides: each file added, changed (its blob or its mode) or removed, and each key of the
    marketplace.json entry or plugin.json that something reads."""
    before = {path: (mode, sha) for path, mode, sha in approved.get("files", [])}
    after = {path: (mode, sha) for path, mode, sha in current.get("files", [])}
    found = [f"Added {path}" for path in sorted(after.keys() - before.keys())]
    found += [f"Changed {path}" for path in sorted(after.keys() & before.keys()) if after[path] != before[path]]
    found += [f"Removed {path}" for path in sorted(before.keys() - after.keys())]
    for part, where in DECLARED:
        old, new = approved.get(part, {}), current.get(part, {})
        found += [f"Changed \"{key}\" in its {where}" for key in sorted(old.keys() | new.keys())
                  if old.get(key) != new.get(key)]
    if "files_total" in approved or "files_total" in current:
        found.append(f"Files past the first {MAX_KEPT_FILES:,} are not kept, so not compared: the plugin holds "
                     f"{current.get('files_total', len(current.get('files', []))):,}.")
    return found


def _files(tree, root: str, skill_folders: set):
    """(path, Entry) of each file Claude Code installs from the plugin at `root`, less the skill folders (a
    skill at the plugin's own root holds every file, and its revisions are approved already). Symlinks inside
    the repository are followed, as Claude Code follows them when it copies a plugin (2.1.332): the files
    behind `hooks -> ../../shared/hooks` are the plugin's hooks, wherever they lie. A link that leads nowhere
    or out of the repository, and a submodule, count as the entries they are.
    It reads down from `root`, passing over the skill folders, not every entry of the tree: a marketplace
    of 500 plugins would read all of them 500 times."""
    if root in skill_folders:
        return
    if not tree.has_symlinks:
        yield from _files_below(tree, root, skill_folders)  # what the walk would give, without its cost
        return
    prefix = f"{root}/" if root else ""
    skip = {folder.removeprefix(prefix) for folder in skill_folders if folder.startswith(prefix)}
    unresolved = []

    def on_problem(kind, rel):
        if kind in ("escape", "broken", "submodule"):
            unresolved.append(f"{prefix}{rel}")

    for rel, entry in tree.walk(root, on_problem, skip):
        yield f"{prefix}{rel}", entry
    for path in unresolved:
        if (entry := tree.entries.get(path)) is not None:
            yield path, entry


def _files_below(tree, root, skill_folders):
    """_files for a tree without symlinks: its folders, read off the Tree (a walk costs twice as much)."""
    folders = [root]
    while folders:
        folder = folders.pop()
        for name in tree.children.get(folder, ()):
            path = f"{folder}/{name}" if folder else name
            if path in skill_folders:
                continue
            if path in tree.children:
                folders.append(path)
            elif (entry := tree.entries.get(path)) is not None:
                yield path, entry

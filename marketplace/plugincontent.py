"""What a plugin installs besides its skills, as one digest: its hooks, commands, agents, MCP and LSP
servers, output styles and the scripts they run, which act in Claude Code as much as a skill does.

Skills have revisions an admin approves (approval.py). Under an approval policy the rest of a plugin
needs the same decision, or a push changing only hooks/hooks.json would reach every channel at the
next commit: `Plugin.own_hash` is this digest as synced, `approved_own_hash` what an admin approved,
and the commit the curated catalogue and publish targets pin (`approved_commit`) moves only while the
two agree (approval.settle). A plugin of skills alone has nothing else: its digest is "".

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


def own_hash(tree, root: str, skill_folders, entry: dict, plugin_json: dict | None) -> str:
    """The digest of the plugin at `root` of `tree` less its skills (`skill_folders`, paths in the tree)."""
    prefix = f"{root}/" if root else ""
    files = sorted(
        (path.removeprefix(prefix), item.mode, item.sha) for path, item in _files(tree, root, set(skill_folders))
        if path.removeprefix(prefix) not in INERT_FILES
    )
    declared = {
        "entry": {k: v for k, v in entry.items() if k not in NOT_CONTENT_KEYS},
        "manifest": {k: v for k, v in (plugin_json or {}).items() if k not in NOT_CONTENT_KEYS},
    }
    if not files and not declared["entry"] and not declared["manifest"]:
        return ""  # skills alone
    material = json.dumps({"files": files, **declared}, sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def _files(tree, root: str, skill_folders: set):
    """(path, Entry) of each file below `root`, less the skill folders (a skill at the plugin's own root
    holds every file, and its revisions are approved already). It walks the tree's folders down from
    `root`, not every entry of the tree: a marketplace of 500 plugins would read all of them 500 times."""
    if root in skill_folders:
        return
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

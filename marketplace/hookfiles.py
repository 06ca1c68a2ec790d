"""A plugin's hooks files (`hooks/hooks.json`, and any its plugin.json names), read as `claude plugin validate`
(2.1.332) reads them. Claude Code loads the plugin without a hooks file it cannot read, and without a hook inside
one that it cannot read, as in a plugin.json (inline.ignore_hooks), unless that hook may guard a tool's use
(inline.GUARDS), or the file's `hooks` is no object of events (which may hold such a hook): then it does not load
the plugin. A marketplace entry's hooks files it does not open, as it opens no entry's component files, and
neither does Skillport.
"""
import posixpath

from . import inline, manifest
from .skillmd import kind_of
from .tree import Escape, join_inside

DEFAULT = "hooks/hooks.json"
# What a hooks module's file name ends in, for Claude Code to load it.
CODE_SUFFIXES = (".ts", ".tsx", ".jsx", ".js", ".mjs", ".cjs", ".mts", ".cts")


def paths(tree, root: str, declared: list[str]) -> list[str]:
    """The hooks files Claude Code checks in the plugin at `root`: the default one, if there, and each JSON file
    of `declared` (the `hooks` paths of its plugin.json; a missing one is reported with them)."""
    default = join_inside(root, DEFAULT)
    found = [default] if tree.is_file(default) else []
    for raw in declared:
        try:
            path = join_inside(root, raw)
        except Escape:
            continue  # reported with the field
        if raw.startswith("./") and raw.endswith(".json") and tree.is_file(path) and path not in found:
            found.append(path)
    return found


def check(tree, root: str, path: str, raw: bytes, location: str, problems) -> str:
    """Why Claude Code does not load the plugin at `root` for its hooks file at `path` holding `raw`, or "" (what
    it loads the plugin without is reported). Not matched: what a hooks module holds, which Claude Code reads as
    code."""
    data = manifest.load_object(raw, location, problems, "hooks-json-invalid",
                                "; Claude Code loads the plugin without its hooks until it is")
    if data is None:
        return ""
    if "hooks" in data and not isinstance(data["hooks"], dict):
        problems.error("hooks-json-invalid", f"hooks: Expected an object of events, received {kind_of(data['hooks'])}. "
                       "It may hold a PreToolUse or PermissionRequest hook, which may be what guards the permissions "
                       "declared beside it, so Claude Code does not load the plugin until it is one", location)
        return f"its hooks file {path} holds no object of events"
    modules = data.get("modules", [])
    wrong = [
        'hooks.json must have "hooks" (each event and its matchers) or "modules" (its hooks module), or both'
        if "hooks" not in data and not (isinstance(modules, list) and modules) else "",
        "modules: Expected a list of one path (a plugin has one hooks module)"
        if not (isinstance(modules, list) and len(modules) <= 1 and all(isinstance(m, str) for m in modules)) else "",
        f"description: Expected a string, received {kind_of(data['description'])}"
        if "description" in data and not isinstance(data["description"], str) else "",
        'surface: No longer read: name the module in the Client element instead ({ module: "./board.tsx", key })'
        if "surface" in data else "",
    ]
    if not any(wrong) and modules:
        wrong.append(_module(tree, root, posixpath.dirname(path), modules[0]))
    for message in filter(None, wrong):
        problems.error("hooks-json-invalid", f"{message}; Claude Code loads the plugin without its hooks until it "
                       "does", location)
    if any(wrong):
        return ""
    if guard := inline.ignore_hooks(data.get("hooks", {}), location, problems, in_file=True):
        return f"its hooks file {path} has {guard}"
    return ""


def _module(tree, root: str, folder: str, raw: str) -> str:
    """What is wrong with the hooks module a hooks file in `folder` names as `raw`, or "": a file of code in
    the plugin at `root`."""
    try:
        path = join_inside(folder, raw)
    except Escape:
        path = None
    if path is None or (root and not path.startswith(f"{root}/")):
        return f"modules: {raw}: The module path leaves the plugin directory"
    if not path.endswith(CODE_SUFFIXES):
        return f"modules: {raw}: Not named like code, so not loaded: a hooks module ends in {', '.join(CODE_SUFFIXES)}"
    if not tree.is_file(path):
        return f"modules: {raw}: No such file (a module's path is relative to the hooks file)"
    return ""

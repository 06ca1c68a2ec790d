"""The frontmatter of a plugin's commands and agents: the Markdown files below its `commands/` and
`agents/` folders, checked as Claude Code (2.1.332) checks them.

A field of the wrong type (`skillmd.refused_fields`, as in a SKILL.md) does not stop the plugin
installing: Claude Code drops a description that is a list or an object, and `claude plugin
validate`, given the plugin's folder, refuses the file. So each is a warning on the plugin that names
the file and the field, for the author to mend.
"""
from . import skillmd
from .tree import Escape, join_inside

FOLDERS = ("commands", "agents")
# A plugin's own commands and agents are a few dozen files of a few KB; past these, the rest are not read.
MAX_FILES = 200
MAX_FILE_BYTES = 64 * 1024
MAX_BYTES = 256 * 1024  # in all, for one plugin
# Only a file's start is parsed: a frontmatter of a few lines, not 64 KB of YAML (up to 65 ms each) that
# would make every sync of a hostile marketplace slow. One past this is not judged.
FRONTMATTER_BYTES = 8 * 1024


def check(tree, root: str, where, problems) -> None:
    """Warn of each command's and agent's frontmatter field Claude Code refuses; `where(path)` names a path
    of the plugin's repository for its problems."""
    files = _files(tree, root)
    if not files:
        return  # most plugins: no request to git at all
    agents_folder = join_inside(root, "agents") + "/"
    with tree.prefetched(entry.sha for _path, entry in files):
        for path, entry in files:
            parsed = skillmd.parse(tree.read_blob(entry.sha)[:FRONTMATTER_BYTES])
            for field, why in skillmd.refused_fields(parsed.frontmatter, agent=path.startswith(agents_folder)):
                problems.warning("component-frontmatter-invalid", f"{field}: {why}", where(path))


def _files(tree, root: str) -> list:
    """(path, Entry) of the Markdown files below the plugin's command and agent folders, none over
    MAX_FILE_BYTES, until MAX_FILES of them or MAX_BYTES in all."""
    found, size = [], 0
    for folder in FOLDERS:
        try:
            path = join_inside(root, folder)
            if not tree.is_dir(path):
                continue
            for relative, entry in tree.walk(path, on_problem=lambda _kind, _path: None):
                if not relative.endswith(".md") or entry.size > MAX_FILE_BYTES:
                    continue
                if len(found) == MAX_FILES or size + entry.size > MAX_BYTES:
                    return found
                found.append((f"{path}/{relative}", entry))
                size += entry.size
        except Escape:
            continue  # a folder that leaves the repository is reported where the plugin is read
    return found


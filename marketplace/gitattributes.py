"""What git's attributes do to a plugin's files as members check them out.

Claude Code installs a plugin from git by cloning its repository at the commit the curated catalogue pins, and the
checkout applies that commit's .gitattributes: `eol=crlf` writes a file's line endings as CRLF (a script's `#!` line
then names `sh\\r`), `ident` expands `$Id$`, `working-tree-encoding` re-encodes the file. Skillport reads, scans and
digests the bytes committed, so such a file is installed as other bytes than were approved, and its skill's
provenance digest no longer matches the installed copy. The sync says which, on each plugin and skill
(reader._find_rewritten, skillfolder.scan).

Left out is what a checkout does only where a member's own git asks for it: a `filter` runs where their git
configures that driver, and Claude Code clones with GIT_LFS_SKIP_SMUDGE=1, so an LFS pointer stays one (the pinned
CLI installs one in tests/test_gitattributes.py); `text` and `text=auto` turn line endings into CRLF only where the
member's git is set to (core.autocrlf on Windows), as for any repository.
"""
import re

from .gitrepo import GitError
from .tree import Tree, span

ASKED = ("eol", "text", "ident", "working-tree-encoding")
# What a .gitattributes must say for a checkout to rewrite anything (a macro that does is written out where it is
# defined): git is asked only when one does. Most repositories have none, or only `text=auto eol=lf`, `binary` and
# LFS's lines; asking costs 0.5 s at 60,000 files.
NAMES_ONE = re.compile(rb"\beol\s*=\s*crlf\b|\bident\b|\bworking-tree-encoding\b", re.IGNORECASE)
# What git is asked about at most: its answer takes time with the patterns times the files (124 KB of patterns over
# 60,000 files took 2.7 s), and a repository can hold megabytes of them.
MOST_BYTES = 256 * 1024
NAME = ".gitattributes"


class Rewritten:
    """The files git rewrites as it checks a commit out, with what it does to each, looked up by folder: a repository
    whose .gitattributes say `* eol=crlf` has every file rewritten, and thousands of plugins at its top would each
    have compared all of them."""

    def __init__(self, found: dict[str, str]):
        self.found, self.paths = found, sorted(found)

    def count(self, folder: str) -> int:
        """How many of them lie in `folder`."""
        found = span(self.paths, folder)
        return found.stop - found.start

    def listed(self, folder: str, most: int = 10) -> str:
        """The first `most` of them in `folder` (paths in it) with what is done to each, and how many more."""
        prefix, found = f"{folder}/" if folder else "", span(self.paths, folder)
        first = self.paths[found.start:min(found.stop, found.start + most)]
        count = found.stop - found.start
        return "; ".join(f"{path.removeprefix(prefix)}: {self.found[path]}" for path in first) + (
            f"; and {count - most} more" if count > most else "")


def rewritten(repo, commit: str, tree: Tree, roots) -> Rewritten:
    """What git rewrites of the files below the folders `roots` ("" for the whole) of `tree`, the listing of `commit`
    in `repo`, as it checks the commit out. Raises GitError."""
    if not _may_rewrite(tree):
        return Rewritten({})
    roots = set(roots)
    paths = [path for path, entry in tree.entries.items()
             if not entry.is_submodule and not entry.is_symlink and _below(path, roots)]
    found = repo.attributes(commit, paths, ASKED)
    return Rewritten({path: why for path in paths if (why := _rewrite(found.get(path, {})))})


def _below(path: str, roots: set) -> bool:
    folder = path
    while folder:
        folder = folder.rpartition("/")[0]
        if folder in roots:
            return True
    return False


def _may_rewrite(tree: Tree) -> bool:
    """Does some .gitattributes of `tree` say what could make a checkout rewrite a file? Raises GitError for more
    of them than git is asked about."""
    found = [entry for folder, names in tree.children.items() if NAME in names
             and (entry := tree.entries.get(f"{folder}/{NAME}" if folder else NAME)) and not entry.is_submodule]
    if (size := sum(entry.size for entry in found)) > MOST_BYTES:
        raise GitError(f"its .gitattributes files hold {size:,} bytes, more than Skillport asks git about "
                       f"({MOST_BYTES:,})")
    return any(NAMES_ONE.search(tree.read_blob(entry.sha)) for entry in found)


def _rewrite(attributes: dict[str, str]) -> str:
    """What the checkout does to a file with these attributes, in words; "" when it writes the bytes committed."""
    changes = []
    # `-text` (and the `binary` macro) turns conversion off, whatever `eol` says.
    if attributes.get("eol") == "crlf" and attributes.get("text") != "unset":
        changes.append("line endings turned into CRLF (eol=crlf)")
    if attributes.get("ident") == "set":
        changes.append("$Id$ expanded (ident)")
    encoding = attributes.get("working-tree-encoding", "unspecified")
    if encoding not in ("unspecified", "unset", "set") and re.sub(r"[-_]", "", encoding).upper() != "UTF8":
        changes.append(f"re-encoded as {encoding} (working-tree-encoding)")
    return ", ".join(changes)

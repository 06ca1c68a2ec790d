"""A read-only view of a git tree listing: directories, and symlinks followed inside the repo.

Symlinks are resolved component by component, the way a filesystem would, but a target that
leaves the tree (absolute, or `..` past the root) is refused instead of read. So are names no
checkout would write, which git trees can still hold (`git mktree` takes any name), and names of a
folder that macOS and Windows would take for one another.
"""
import bisect
import re
import unicodedata
from contextlib import contextmanager

from .gitrepo import Entry

MAX_SYMLINK_HOPS = 40
# The longest target a link may name: a checkout cannot make a longer one (PATH_MAX), so it is broken.
LONGEST_LINK = 4096
# Why the Tree refuses a name (Tree.refused), as walk reports each to its caller.
REFUSED_KINDS = ("unsafe-name", "same-name", "short-name")
# Folders below the one walked: deeper ones are reported, not read (walk recurses once a level).
MAX_DEPTH = 100
# A name that is empty, '.', '..' or holds a backslash can lead out of the folder it is unpacked in;
# a control character (NUL included) or bytes that are not UTF-8 (surrogates, once decoded) cannot be
# stored or zipped as they are. Windows holds none of < > : " | ? * either (a colon also starts a drive,
# 'C:', or names a file's hidden stream).
UNSAFE_CHARACTER = re.compile(r'[\\<>:"|?*\x00-\x1f\x7f\ud800-\udfff]')
# Names Windows keeps for devices, whatever spaces and extension follow (aux.md, nul.txt, "aux .md"; the digits
# include 0 and the superscripts ¹ ² ³), and names ending in a dot or a space, which Windows drops. Git for
# Windows refuses to check out a repository holding any of these characters or names (compat/mingw.c,
# is_valid_win32_path), or fails on the file: one would stop every Windows member's clone of a published
# marketplace. Claude Code's own rule for names Windows cannot hold is the same.
DEVICE = r"(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$) *(?:\.[^/]*)?"
# A folder git itself would read as a repository's own: `.git` in any case, or as Windows and macOS
# also read it (the short name `git~1`, code points macOS's file system ignores; trailing dots and spaces
# are refused as above). git refuses to check any of them out (read-cache.c, verify_path), and unpacked
# from a package one would put a `.git/config` (fsmonitor, hooks: commands git runs) inside whichever
# project holds the skill.
_IGNORED = "[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]*"
DOT_GIT = rf"{_IGNORED}(?:\.{_IGNORED}g{_IGNORED}i{_IGNORED}t|git~1){_IGNORED}"
# Searched in the path lowered and wrapped in slashes ("/a/b/"), so that each name is between two.
KEPT_NAME = re.compile(rf"/(?:{DEVICE}|{DOT_GIT})/")


class Escape(Exception):
    """A path or symlink target that leaves the repository."""


class Missing(Exception):
    """A path that does not exist, or a symlink loop."""


def join_inside(base: str, relative: str) -> str:
    """Join `relative` onto `base` (both repo paths); raise Escape if it leaves the root.

    posixpath.normpath would quietly clamp `/../x` to `/x`; here climbing past the root is an
    error, because that is exactly the path-traversal case we must refuse.
    """
    if relative.startswith("/") or "\\" in relative:
        raise Escape(relative)
    parts = [p for p in base.split("/") if p]
    for part in relative.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise Escape(relative)
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def is_clean_path(path: str) -> bool:
    """True for a relative path of safe names joined by '/', one that stays where it is unpacked."""
    # Plain substring tests first: every path of every tree passes through here.
    wrapped = f"/{path}/"
    return not (
        "//" in wrapped or "/./" in wrapped or "/../" in wrapped
        or "./" in wrapped or " /" in wrapped  # a name ending in a dot or a space
        or UNSAFE_CHARACTER.search(path) or _kept_name(wrapped.lower())
    )


def _kept_name(lowered: str) -> bool:
    """A device name or git's own folder among the names of `lowered` ("/a/b/", lower case)."""
    if lowered.isascii() and "git" not in lowered and "/co" not in lowered and "/prn" not in lowered and (
            "/aux" not in lowered and "/nul" not in lowered and "/lpt" not in lowered):
        return False  # most paths: no name starts like either (written out: any() over a tuple costs 1.3 µs)
    return KEPT_NAME.search(lowered) is not None


def span(paths: list[str], folder: str) -> slice:
    """Where the sorted `paths` that lie in `folder` ("": all of them) are: from `folder/` up to `folder0` ("0" sorts
    right after "/"), found rather than each compared."""
    if not folder:
        return slice(0, len(paths))
    return slice(bisect.bisect_left(paths, f"{folder}/"), bisect.bisect_left(paths, f"{folder}0"))


def in_mcpb_cache(path: str, root: str = "") -> bool:
    """Whether `path` leads into a `.mcpb-cache` folder of the plugin at `root`: Claude Code (2.1.332) unpacks the
    plugin's MCP bundles there, over what the folder held, so it loads no component path and scans no skill folder
    of that name. It compares names in any case and without the invisible characters Windows drops."""
    below = path.removeprefix(f"{root}/") if root else path
    return any(re.sub(_IGNORED, "", name).lower() == ".mcpb-cache" for name in below.split("/"))


def unsafe_reason(name: str) -> str:
    """Why is_clean_path refuses `name` (one name of a path), in words for whoever must rename it."""
    if name in ("", ".", ".."):
        return "an empty name, '.' or '..', which lead out of the folder"
    if found := UNSAFE_CHARACTER.search(name):
        character = found.group()
        if "\ud800" <= character <= "\udfff":
            return "bytes that are not UTF-8"
        if character < " " or character == "\x7f":
            return "a control character"
        if character == "\\":
            return "a backslash, which Windows reads as a folder separator"
        return f"{character!r}, which Windows does not allow in a name"
    if name.endswith((".", " ")):
        return "a dot or space at its end, which Windows drops"
    if re.fullmatch(DEVICE, name.lower()):
        return "a name Windows keeps for a device"
    return "a name git reads as its own .git folder"


def same_name_key(name: str) -> str:
    """What macOS's and Windows's file systems compare of a name: letters without their case, and
    accented letters however they are composed (é as one code point or as e and a combining accent)."""
    return name.lower() if name.isascii() else unicodedata.normalize("NFC", name).casefold()


# A name fit for DOS's 8.3 form: up to eight characters, and up to three after one dot, of these. Windows
# gives any other name a short one as well, made of some of its characters, '~' and a number (DEPLOY~1.SH for
# deploy-production.sh; after a few of one prefix, a hash of the name: DE4F3A~1.SH; letters of the OEM code
# page are kept: CAFÉ~1.MD). The generated form is Claude Code's own rule for such names.
_SHORT_CHARACTER = r"[a-z0-9!#$%&'()@^_`{}~-]"
SHORT_NAME = re.compile(rf"{_SHORT_CHARACTER}{{1,8}}(?:\.{_SHORT_CHARACTER}{{1,3}})?", re.IGNORECASE)
GENERATED_SHORT_NAME = re.compile(r"[^.]{1,6}~[0-9]+(?:\.[^.]{1,3})?")
# A file written under such a name beside the long one opens the long one: unzip overwrites it, a checkout
# deletes it. What is approved under the long name need not be what is there.
SHORT_NAME_REASON = "has the form of the short name Windows gives a long name beside it, and may be taken there for it"


def name_clashes(paths) -> list[str]:
    """Names among `paths` (of one skill) that macOS or Windows would take for one another, a sentence for
    each folder holding some (Tree refuses them in a repository; an upload or a proposal says why)."""
    children = {}
    for path in paths:
        parts = path.split("/")
        for depth, name in enumerate(parts):
            children.setdefault("/".join(parts[:depth]), set()).add(name)
    sentences = []
    for folder, taken in sorted(_taken_names(children).items()):
        shown = {name: repr(f"{folder}/{name}" if folder else name) for name in sorted(taken)}
        if same := [shown[name] for name, why in sorted(taken.items()) if why == "same-name"]:
            sentences.append(f"{' and '.join(same)} are one name on macOS and Windows, which do not tell letters' "
                             "case apart: keep one")
        for name in (name for name, why in sorted(taken.items()) if why == "short-name"):
            sentences.append(f"{shown[name]} {SHORT_NAME_REASON}: rename it")
    return sentences


def _taken_names(children: dict[str, set[str]]) -> dict[str, dict[str, str]]:
    """{folder: {name: why}} of the names macOS or Windows would take for another of the folder's names:
    "same-name", both names of a pair same_name_key matches; "short-name", one shaped like the short name
    Windows generates for a long name beside it (the long one is kept: it is the alias that misleads)."""
    taken = {}
    for folder, names in children.items():
        if len(names) < 2:
            continue
        if len({same_name_key(name) for name in names}) < len(names):
            by_key = {}
            for name in names:
                by_key.setdefault(same_name_key(name), []).append(name)
            taken[folder] = {name: "same-name" for group in by_key.values() if len(group) > 1 for name in group}
        if any("~" in name for name in names):  # rare: most folders stop here
            aliases = [name for name in names if "~" in name and GENERATED_SHORT_NAME.fullmatch(name)]
            if aliases and any(not SHORT_NAME.fullmatch(name) for name in names):
                taken.setdefault(folder, {}).update(dict.fromkeys(aliases, "short-name"))
    return taken


def folders_of(paths) -> set[str]:
    """Every folder holding one of `paths` (repository paths), however deep: "a/b/c" gives "a" and "a/b"."""
    return {"/".join(parts[:depth]) for parts in (path.split("/") for path in paths) for depth in range(1, len(parts))}


class Tree:
    DIR = "dir"

    def __init__(self, entries: dict[str, Entry], read_blob, read_blobs=None):
        """`read_blob(sha)` gives a blob's content; `read_blobs(shas)` (CatFile.read_many) yields
        (sha, content) for many in one request, else they are read one by one."""
        self.entries = {}
        self._read_blob = read_blob
        self.read_blobs = read_blobs or (lambda shas: ((sha, read_blob(sha)) for sha in shas))
        self._prefetched = {}
        self._targets = {}  # a link's blob -> its target: a sync resolves thousands of paths through one link
        self._links = None  # every symbolic link's path, sorted, once asked for (links_leaving)
        self._leaving = {}  # folder -> links_leaving(folder)
        # folder -> {name in it: why it is refused ("unsafe-name", "same-name", "short-name")}; nothing below
        # a refused name is read
        self.refused: dict[str, dict[str, str]] = {}
        for path, entry in entries.items():
            if is_clean_path(path):
                self.entries[path] = entry
            else:
                parts = path.split("/")
                bad = next(i for i, part in enumerate(parts) if not is_clean_path(part))
                self.refused.setdefault("/".join(parts[:bad]), {})[parts[bad]] = "unsafe-name"
        self._list_children()
        if clashes := _taken_names(self.children):
            # Checked out or unpacked on macOS or Windows, one would overwrite the other: the file read there
            # would not be the one shown, scanned and approved here. Neither of a same-name pair is read.
            gone = {f"{folder}/{name}" if folder else name for folder, names in clashes.items() for name in names}
            below = tuple(f"{path}/" for path in gone)

            def kept(path):
                return path not in gone and not path.startswith(below)

            # Nothing below a refused name is read, or reported.
            self.refused = {folder: names for folder, names in self.refused.items() if kept(folder)}
            for folder, names in clashes.items():
                if kept(folder):
                    self.refused.setdefault(folder, {}).update(names)
            self.entries = {path: entry for path, entry in self.entries.items() if kept(path)}
            self._list_children()
        self.has_symlinks = any(entry.is_symlink for entry in self.entries.values())

    def _list_children(self):
        self.children: dict[str, set[str]] = {"": set()}
        # A folder holding only refused names is still a folder: a walk reaches it and reports them.
        for path in [*self.entries, *self.refused]:
            # Up from the file until a folder already listed: each folder is split off once.
            child = path
            while child:
                parent, _, name = child.rpartition("/")
                listed = parent in self.children
                self.children.setdefault(parent, set()).add(name)
                child = "" if listed else parent
        for folder in self.refused:
            self.children.setdefault(folder, set())

    def read_blob(self, sha: str) -> bytes:
        content = self._prefetched.get(sha)
        return self._read_blob(sha) if content is None else content

    @contextmanager
    def prefetched(self, shas):
        """Within the block, `read_blob` answers for `shas` from one request (read_blobs)."""
        self._prefetched = dict(self.read_blobs(dict.fromkeys(shas)))
        try:
            yield
        finally:
            self._prefetched = {}

    def _link_target(self, path: str) -> str:
        """Raises Missing for a target no checkout makes: read, a link of 20 MB (a few kilobytes packed) cost 5 s
        and 340 MB each time a path was resolved through it."""
        entry = self.entries[path]
        if entry.size > LONGEST_LINK:
            raise Missing(f"{path}: a symbolic link to a path over {LONGEST_LINK} bytes long")
        if entry.sha not in self._targets:
            self._targets[entry.sha] = self.read_blob(entry.sha).decode("utf-8", "surrogateescape")
        return self._targets[entry.sha]

    def resolve(self, path: str, _hops: int = 0) -> str:
        """The real path behind `path`, with every symlink on the way followed."""
        if not self.has_symlinks and (path in self.entries or path in self.children) and (
                not path or "//" not in f"/{path}/"):
            return path  # nothing to follow: the walk below would give `path` back (a sync asks thousands)
        done = ""
        parts = [p for p in path.split("/") if p]
        for i, part in enumerate(parts):
            candidate = f"{done}/{part}" if done else part
            entry = self.entries.get(candidate)
            if entry is not None and entry.is_symlink:
                if _hops >= MAX_SYMLINK_HOPS:
                    raise Missing(f"{path}: too many levels of symbolic links")
                target = join_inside(done, self._link_target(candidate))
                rest = "/".join(parts[i + 1:])
                return self.resolve(f"{target}/{rest}" if rest else target, _hops + 1)
            if entry is None and candidate not in self.children:
                raise Missing(path)
            if entry is not None and i < len(parts) - 1:
                raise Missing(path)  # a file used as a directory
            done = candidate
        return done

    def kind(self, path: str):
        """(real path, Entry or Tree.DIR), or None if the path is absent. Raises Escape."""
        try:
            real = self.resolve(path)
        except Missing:
            return None
        if real in self.entries:
            return real, self.entries[real]
        return real, self.DIR

    def is_dir(self, path: str) -> bool:
        try:
            found = self.kind(path)
        except Escape:
            return False
        return found is not None and found[1] == self.DIR

    def is_file(self, path: str) -> bool:
        try:
            found = self.kind(path)
        except Escape:
            return False
        return found is not None and found[1] != self.DIR and not found[1].is_submodule

    def listdir(self, path: str) -> list[str]:
        return sorted(self.children.get(self.resolve(path), ()))

    def links_leaving(self, root: str) -> list[str]:
        """The symbolic links in the folder `root` (paths in the tree) that lead to a file or folder of the repository
        outside it. Claude Code follows them as it copies a plugin from a marketplace it reads itself, but installs a
        `git-subdir` source without them ("installed without 3 links it can't keep", 2.1.332): the curated catalogue
        lists a plugin with a folder of its own so (tests/test_curated.py). Links leading nowhere or out of the
        repository are what the walk reports them as. Plugins sharing a folder share the answer."""
        if not root or not self.has_symlinks:
            return []
        if self._links is None:
            self._links = sorted(path for path, entry in self.entries.items() if entry.is_symlink)
        if root not in self._leaving:
            self._leaving[root] = [link for link in self._links[span(self._links, root)] if self._leaves(link, root)]
        return self._leaving[root]

    def _leaves(self, link: str, root: str) -> bool:
        try:
            target = self.resolve(link)
        except (Escape, Missing):
            return False
        return target != root and not target.startswith(f"{root}/")

    def refused_below(self, root: str) -> list[str]:
        """Every name refused below `root`, as "path (why)" relative to it: what a walk from `root` reports of
        them (REFUSED_KINDS), read off the Tree, which gives the same where no symlink leads elsewhere."""
        if self.has_symlinks:
            found = []

            def on_problem(kind, rel):
                if kind in REFUSED_KINDS:
                    found.append(f"{rel} ({kind})")

            for _file in self.walk(root, on_problem):
                pass  # the walk reports what it meets on its way; its files are not wanted here
            return sorted(found)
        prefix = f"{root}/" if root else ""
        return sorted(
            f"{folder.removeprefix(prefix)}/{name} ({why})" if folder != root else f"{name} ({why})"
            for folder, names in self.refused.items() if folder == root or folder.startswith(prefix)
            for name, why in names.items()
        )

    def refused_in(self, folder: str) -> dict[str, str]:
        """{name: why} of the names refused in `folder`, reached through any symlinks on its path."""
        try:
            return self.refused.get(self.resolve(folder), {})
        except (Escape, Missing):
            return {}

    def walk(self, path: str, on_problem, skip=frozenset(), _seen=None, _prefix="", _depth=0):
        """Yield (relative path, Entry) for every file below `path`, following safe symlinks.

        Escaping or broken symlinks, submodules, unsafe names and folders nested deeper than
        MAX_DEPTH are passed to `on_problem(kind, relpath)` instead of being yielded; a directory
        reached twice through links is walked once. Relative paths in `skip` are passed over.
        """
        root = self.resolve(path)
        seen = _seen if _seen is not None else set()
        if root in seen:
            return
        seen.add(root)
        if _depth > MAX_DEPTH:
            on_problem("too-deep", _prefix.rstrip("/"))
            return
        for name, why in sorted(self.refused.get(root, {}).items()):
            on_problem(why, f"{_prefix}{name}")
        for name in sorted(self.children.get(root, ())):
            rel = f"{_prefix}{name}"
            if rel in skip:
                continue
            real_child = f"{root}/{name}" if root else name
            entry = self.entries.get(real_child)
            if entry is not None and entry.is_submodule:
                on_problem("submodule", rel)
                continue
            try:
                found = self.kind(real_child)
            except Escape:
                on_problem("escape", rel)
                continue
            if found is None:
                on_problem("broken", rel)
                continue
            real, target = found
            if target == self.DIR:
                yield from self.walk(real, on_problem, skip, seen, f"{rel}/", _depth + 1)
            elif target.is_submodule:
                on_problem("submodule", rel)
            else:
                yield rel, target

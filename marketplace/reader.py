"""Read a marketplace repository into a Snapshot: plugins, skills and files, with every problem.

The reader touches git and nothing else, so `validate_marketplace` runs it offline and the
sync runs it before opening a transaction. It works in two steps:

1. `prepare()` fetches the marketplace and every git source its entries name, and parses the
   catalogue. Its `fingerprint` changes whenever anything the catalogue depends on changes,
   so an unchanged marketplace is recognised without reading a single skill.
2. `read()` discovers plugins and skills, hashes each skill folder from the tree listing, and
   reads blobs only for skills whose hash the caller does not already know.
"""
import bisect
import hashlib
import itertools
import json
import logging
import posixpath
import re
from dataclasses import dataclass

from django.conf import settings

from . import (
    addresses, componentfiles, dependencies, discovery, gitattributes, hookfiles, inline, manifest, plugincontent,
    skillfolder, typesfile,
)
from .gitrepo import GitError, Repository, is_local
from .problems import CatalogError, Problems
from .snapshot import (
    ALL_SURFACES, DEFAULT_CATALOG_PATH, HOLDS_TOO_MANY, LFS_HEADER, LINKS_OUT, MOST_HELD, REWRITES, PluginData,
    Snapshot,
)
from .tree import Escape, Missing, Tree, in_mcpb_cache, join_inside, span

log = logging.getLogger(__name__)

# Bump when reading rules change: the next sync reads an unchanged commit again, and every skill in it
# (sync._rejudge), so that what is stored is judged by the rules of the reader that runs.
# 5: names refused anywhere a plugin installs from are reported on it (unread-files).
# 6: Claude Code 2.1.332's rules: fields of sources Skillport does not fetch, `strict`, component paths,
#    the newer fields; what its validator refuses in a plugin's SKILL.md, commands and agents.
# 7: components written inline (hook matchers, MCP and LSP servers, commands, monitors), what Claude Code
#    reads under `experimental`, dependencies named as it names them.
# 8: each hook written inline, by its type; a plugin.json's hook Claude Code cannot read is left out of the
#    plugin (a warning), not a reason it does not load; hooks files; MCP servers' other fields and `oauth`;
#    a plugin.json's types file, a contract of types alone; whether a plugin loads, as `claude plugin list` says
#    (missing components, conflicting manifests, an entry's hooks by path, the fields Claude Code installs by).
# 9: a dependency Claude Code will not install, or that lacks its own; dependencies in a circle; versions asked;
#    defaultEnabled; engines that are no range.
# 10: what differential fuzzing found: SKILL.md frontmatter mended as Claude Code mends it, a skill's shell, guarding
#    hooks Claude Code cannot read, an entry's missing paths, userConfig and channels, a plugin.json's name,
#    category and tags, engines of other hosts, a relative source that is no folder.
# 11: SKILL.md frontmatter by YAML 1.2's core schema, mended only on lines ending in LF, UTF-8 alone; numbers past a
#    double; skill discovery step by step as Claude Code's loader (skills/SKILL.md, root sources, plugin.json and
#    the entry); a SKILL.md over 1 MiB does not load.
# 12: as a Claude Code session loads plugins: a missing component, an unreadable hooks file or an entry's hooks by
#    path leave the plugin loading without that part; `.mcpb-cache` is not read; a SKILL.md over 1 MiB shadows no
#    folder; a skill without a description is not offered to Claude; a YAML tag the core schema does not know, or
#    that its value cannot be, is passed over.
# 13: a skills path climbing out of the plugin's folder finds nothing (Claude Code installs the folder alone); a
#    symbolic link to a path over 4,096 bytes is broken.
# 14: files a checkout rewrites by the repository's .gitattributes (eol=crlf, ident, working-tree-encoding); which
#    plugins' folders hold other plugins or their skills (Plugin.holds); links leading out of a plugin's folder.
READER_VERSION = 14
# A plugin's README is for its page only: a longer one is not shown (and no problem for Claude Code).
README_MAX_BYTES = 256 * 1024
# The only components of a marketplace entry whose paths Claude Code looks for as it loads the plugin.
ENTRY_LOADED = ("commands", "agents", "outputStyles", "themes", "experimental.themes")
SURFACE_TAGS = {
    "surface:CC": ["claude_code"],
    "surface:CD": ["claude_desktop"],
    "surface:CAI": ["claude_ai"],
    "surface:CDAI": ["claude_desktop", "claude_ai"],
    "surface:CALL": ["claude_code", "claude_desktop", "claude_ai"],
}
MAX_UNREACHABLE_REPORTED = 50  # some repositories hold thousands: the count says the rest


class NullBlobSink:
    """Blob storage for offline validation: nothing is known, nothing is kept."""

    def known(self, shas):
        return {}

    def put(self, sha, content, is_binary, is_lfs):
        pass

    def flush(self):
        pass


@dataclass
class _Source:
    repo: Repository
    commit: str
    subdir: str = ""
    tree: "Tree | GitError | None" = None  # GitError: the tree could not be read


class Reader:
    def __init__(self, url, *, ref="", sha="", catalog_path="", token=None, token_reach=addresses.REPOSITORY,
                 known_skills=None, blob_sink=None, progress=None, fetch_sources=True):
        self.url = url
        self.sha = sha  # a commit to read instead of the ref's (authoring reads one it made in the cache)
        self.fetch_sources = fetch_sources  # False: git sources are listed as not checked, never cloned
        self.ref = ref
        self.catalog_path = catalog_path or DEFAULT_CATALOG_PATH
        self.token = token
        self.token_reach = token_reach  # where else on its server the token goes (Marketplace.token_reach)
        self.known_skills = known_skills or {}
        self.blob_sink = blob_sink or NullBlobSink()
        self.progress = progress or (lambda phase, done, total: None)
        self._cat_files = {}  # git dir -> its CatFile
        self._fetched = {}  # (url, ref, sha) -> _Source or GitError
        self.commit = ""
        self.catalog = None

    # -- step 1 ------------------------------------------------------------------------

    def prepare(self) -> str:
        """Fetch and parse the catalogue and fetch every git source; return the fingerprint."""
        self.progress("fetch", 0, 1)
        try:
            if self.sha:  # a commit the cache holds is read from it: no round trip to the remote
                self.repo, self.commit = Repository.holding(self.url, self.sha, token=self.token), self.sha
            else:
                self.repo, self.commit = Repository.fetch(self.url, ref=self.ref, token=self.token)
        except GitError as exc:
            raise CatalogError("fetch-failed", f"Could not fetch the marketplace: {exc}", detail=exc.detail) from None
        try:
            self.tree = self._tree(self.repo, self.commit)
        except GitError as exc:
            raise CatalogError("repository-unreadable", f"The repository cannot be read at {self.commit[:12]}: {exc}",
                               detail=exc.detail) from None
        self.root = self._marketplace_root()
        raw = self._read_catalog()
        self.catalog = manifest.parse_catalog(raw, self.catalog_path, self.url)
        self.sources = {}
        for index, entry in self.catalog.entries:
            source = entry.get("source")
            if self.fetch_sources and isinstance(source, dict) and source.get("source") in ("github", "url", "git-subdir"):
                # Parsed again (with problems recorded) in read(); here we only need the URL.
                parsed = manifest.parse_source(source, self.catalog, "", Problems(), settings.SKILLPORT_GITHUB_URL)
                if parsed is not None:
                    self._fetch_source(parsed)
        self.progress("fetch", 1, 1)
        return self.fingerprint()

    def fingerprint(self) -> str:
        external = sorted(
            f"{key}={value.commit if isinstance(value, _Source) else 'error'}"
            for key, value in self._fetched.items()
        )
        material = json.dumps([
            READER_VERSION, self.commit, self.catalog_path, external,
            settings.SKILLPORT_MAX_FILE_BYTES, settings.SKILLPORT_MAX_SKILL_BYTES,
            settings.SKILLPORT_MAX_SKILL_FILES,
        ])
        return hashlib.sha256(material.encode()).hexdigest()

    def _marketplace_root(self) -> str:
        try:
            return catalog_root(self.catalog_path)
        except Escape:
            raise CatalogError("path-traversal", f"Catalogue path '{self.catalog_path}' leaves the repository") from None

    def _read_catalog(self) -> bytes:
        location = self.catalog_path
        try:
            found = self.tree.kind(self.catalog_path)
        except Escape:
            raise CatalogError("symlink-escape", "The catalogue is a symlink that leaves the repository", location) from None
        if found is None or found[1] == Tree.DIR:
            raise CatalogError("catalog-missing", f"No marketplace catalogue at '{location}'", location)
        entry = found[1]
        if entry.size > settings.SKILLPORT_MAX_FILE_BYTES:
            raise CatalogError("catalog-too-large", f"The catalogue is {entry.size} bytes, over the file-size limit", location)
        raw = self.tree.read_blob(entry.sha)
        if raw.startswith(LFS_HEADER):
            raise CatalogError("lfs-pointer", "The catalogue is a Git LFS pointer; its content is not in the repository", location)
        return raw

    def _fetch_source(self, source) -> "_Source | GitError":
        key = (source.url, source.sha or source.ref)
        if key in self._fetched:
            return self._fetched[key]
        if _is_local_url(source.url) and not settings.SKILLPORT_ALLOW_LOCAL_SOURCES:
            result = GitError("local paths and file:// URLs are not allowed as plugin sources")
        else:
            token = self.token if addresses.within_reach(source.url, self.url, self.token_reach) else None
            try:
                repo, commit = Repository.fetch(source.url, ref=source.ref, sha=source.sha, token=token)
                result = _Source(repo, commit)
            except GitError as exc:
                result = exc
        self._fetched[key] = result
        return result

    # -- step 2 ------------------------------------------------------------------------

    def read(self) -> Snapshot:
        if self.catalog is None:
            self.prepare()
        access = self._read_access()
        plugins, seen = [], set()
        total = len(self.catalog.entries)
        with self.tree.prefetched(self._plugin_file_shas()):
            for done, (index, entry) in enumerate(self.catalog.entries):
                self.progress("plugins", done, total)
                location = f"{self.catalog_path}: plugins[{index}]"
                name = entry.get("name")
                if not manifest.check_plugin_name(name, location, self.catalog.problems, self.catalog.official):
                    self.catalog.dropped += 1
                    continue
                if name in seen:
                    self.catalog.problems.error(
                        "duplicate-plugin-name",
                        f"Duplicate plugin name '{name}': Claude Code installs only the first entry of a name. "
                        "Rename or remove this one",
                        location,
                    )
                    self.catalog.dropped += 1
                    continue
                seen.add(name)
                plugins.append(self._read_plugin(index, entry, f"{location} ({name})"))
        self.progress("plugins", total, total)
        _unmet_dependencies(plugins, self.catalog.name, self.catalog_path)
        _other_marketplaces(plugins, self.catalog, self.catalog_path)
        # Before skills are hashed: a skill a link leaves behind, or whose files a checkout rewrites, says so
        # (skillfolder.scan).
        _find_rewritten(plugins, self._repositories())
        for plugin in plugins:
            plugin.links_out = plugin.tree.links_leaving(plugin.root) if plugin.tree is not None else []
            # Once every plugin's refusal is known, its dependencies' included: a skill's content hash holds it.
            # Names of new skills are known only once read; skillfolder.read_new dedupes them after that.
            plugin.skills = [skillfolder.scan(plugin.tree, folder, plugin, self.known_skills)
                             for folder in plugin.skill_folders]
        _report_unread(plugins)
        _report_links_out(plugins)
        _report_rewritten(plugins)
        skillfolder.read_new(plugins, self.blob_sink, self.progress)
        # Once read, so that a skill another of its name shadows (skillfolder._dedupe), which Skillport does not list
        # but Claude Code loads, is reviewed and scanned as the plugin's own content.
        _take_own_contents(plugins)
        _find_holdings(plugins)
        unreachable = self._unreachable_skill_files(plugins)
        self.close()
        return Snapshot(
            commit=self.commit,
            catalog=self.catalog,
            plugins=plugins,
            access=access,
            fingerprint=self.fingerprint(),
            unreachable_skill_files=len(unreachable),
        )

    def _repositories(self) -> dict:
        """{id(tree): the repository it lists}, for the marketplace's tree and each source's read."""
        read = [(self.tree, self.repo)] + [(source.tree, source.repo) for source in self._fetched.values()
                                           if isinstance(source, _Source) and isinstance(source.tree, Tree)]
        return {id(tree): repo for tree, repo in read}

    def _plugin_file_shas(self) -> list[str]:
        """The plugin.json and README of each plugin in the marketplace's own repository, so that they
        are read in one request (one round trip to git per file cost a sixth of a one-skill sync)."""
        shas = []
        for _index, entry in self.catalog.entries:
            # Parsed again, problems recorded, in _read_plugin; only the folder is needed here.
            source = manifest.parse_source(entry.get("source"), self.catalog, "", Problems(), "")
            if source is None or source.kind != "relative":
                continue
            try:
                root = join_inside(self.root, source.path)
                paths = [join_inside(root, ".claude-plugin/plugin.json")]
                paths += [join_inside(root, name) for name in self.tree.listdir(root) if name.lower() == "readme.md"]
                found = [self.tree.kind(path) for path in paths]
            except (Escape, Missing):
                continue
            shas += [entry.sha for _path, entry in filter(None, found)
                     if entry != Tree.DIR and not entry.is_submodule and entry.size <= settings.SKILLPORT_MAX_FILE_BYTES]
        return shas

    def close(self):
        for cat_file in self._cat_files.values():
            cat_file.close()
        self._cat_files = {}

    def _tree(self, repo, commit) -> Tree:
        blobs = self._cat_file(repo)
        return Tree(repo.list_tree(commit), blobs.read, blobs.read_many)

    def _cat_file(self, repo):
        if repo.git_dir not in self._cat_files:
            self._cat_files[repo.git_dir] = repo.blobs()
        return self._cat_files[repo.git_dir]

    def _read_access(self) -> dict | None:
        """Skillport's own `.skillport/access.json` (FORMAT.md §8); absent means everyone reads.

        None when the file exists but cannot be read: a typo must not open restricted skills
        to everyone, so the caller keeps the last rules it could read.
        """
        path = join_inside(self.root, ".skillport/access.json")
        if not self.tree.is_file(path):
            return {}
        entry = self.tree.kind(path)[1]
        if entry.size > settings.SKILLPORT_MAX_FILE_BYTES:  # read whole, and a few kilobytes packed may be gigabytes
            self.catalog.problems.error("access-json-invalid", f"It is {entry.size:,} bytes, over the file-size limit "
                                        "(SKILLPORT_MAX_FILE_BYTES); the last readable rules stay", path)
            return None
        raw = self.tree.read_blob(entry.sha)
        return manifest.load_object(
            raw, path, self.catalog.problems, "access-json-invalid", "; the last readable rules stay"
        )

    def _read_plugin(self, index, entry, location) -> PluginData:
        plugin = PluginData(name=entry["name"], index=index, entry=entry, source=None)
        problems = plugin.problems
        manifest.warn_unknown(entry, manifest.ENTRY_KEYS, location, problems)
        plugin.surfaces = _surfaces(entry.get("tags"))
        components, display = manifest.check_fields(entry, location, problems, entry=True)
        # Claude Code refuses to install a plugin whose marketplace entry breaks its schema.
        refusal = "; ".join(components + display)
        strict = entry.get("strict", True)
        if not isinstance(strict, bool):
            # Claude Code's schema: `claude plugin install` refuses the entry.
            message = f"strict: Expected boolean, received {json.dumps(strict)}. Write true or false"
            problems.error("strict-not-boolean", message, location)
            refusal = refusal or message
            strict = True
        if "source" not in entry:
            problems.error("plugin-missing-source", "source: Required", location)
            plugin.loads, plugin.installs, plugin.refusal = False, False, "it has no source"
            return _failed(plugin)
        source = manifest.parse_source(entry["source"], self.catalog, location, problems, settings.SKILLPORT_GITHUB_URL)
        plugin.source = source
        if source is None:  # its problem says why; `claude plugin install` refuses such an entry
            plugin.loads, plugin.installs, plugin.refusal = False, False, "its source cannot be read"
            return _failed(plugin)
        plugin.display = {k: entry[k] for k in manifest.DISPLAY_KEYS if k in entry}
        if not source.fetched and source.kind != "relative":
            plugin.version = str(entry.get("version") or "")
            plugin.loads = plugin.installs = not refusal
            plugin.refusal = refusal
            return plugin  # listed for Claude Code; nothing for Skillport to read

        tree, root, commit = self._plugin_tree(plugin, location)
        if tree is None:
            if not source.fetched:  # no folder of this repository: `claude plugin install` fails, and its dependents
                plugin.loads, plugin.installs, plugin.refusal = False, False, "its source is no folder of the repository"
            return _failed(plugin)
        plugin.commit = commit

        plugin_json = join_inside(root, ".claude-plugin/plugin.json")
        if tree.is_file(plugin_json):
            raw = self._read_small(tree, plugin_json, problems)
            if raw is not None:
                plugin.manifest, manifest_refusal = manifest.parse_plugin_json(
                    raw, plugin.where(plugin_json), problems, plugin.name, self.catalog.official
                )
                refusal = refusal or manifest_refusal
        # What refuses it so far refuses its install; what follows Claude Code installs, then will not load.
        plugin.installs = not refusal
        if plugin.manifest is not None:
            _check_component_paths(plugin.manifest, tree, root, plugin.where(plugin_json), problems)
        _check_component_paths(entry, tree, root, location, problems, entry=True)
        entry_components = manifest.COMPONENT_KEYS & set(entry)
        if plugin.manifest is not None and not strict and entry_components:
            # Claude Code (2.1.332) validates and installs it, then will not load it ("conflicting manifests"):
            # a warning, as its validator gives, that refuses the plugin.
            problems.warning(
                "strict-conflict",
                "Plugin has both a plugin.json and component fields in its marketplace entry "
                f"({', '.join(sorted(entry_components))}) with strict: false: Claude Code installs it, then will not "
                "load it (conflicting manifests). Keep them in one place: in plugin.json (and strict: true), or in "
                "the entry only",
                location,
            )
            refusal = refusal or "its plugin.json and its marketplace entry both declare components (strict: false)"
        if isinstance(entry.get("hooks"), (str, list)):
            # Its validator passes a path or a list there; Claude Code 2.1.332 loads the plugin without them.
            problems.warning(
                "entry-hooks-not-inline",
                "hooks: Claude Code does not yet load hooks a marketplace entry names by path or in a list: it loads "
                "the plugin without them. Move them to the plugin's hooks/hooks.json (or its plugin.json), or write "
                'them here as an object of events ("hooks": {"PreToolUse": [...]})',
                location,
            )
        for path in hookfiles.paths(tree, root, manifest.component_paths((plugin.manifest or {}).get("hooks"))):
            if (raw := self._read_small(tree, path, problems)) is not None:
                why = hookfiles.check(tree, root, path, raw, plugin.where(path), problems)
                refusal = refusal or why
        self._check_types(tree, root, plugin, problems)
        plugin.loads, plugin.refusal = not refusal, refusal
        componentfiles.check(tree, root, plugin.where, problems)
        plugin.readme = _readme(tree, root)
        if plugin.manifest:
            plugin.display.update({k: plugin.manifest[k] for k in manifest.DISPLAY_KEYS & manifest.MANIFEST_KEYS
                                   if k in plugin.manifest})
        plugin.version = str(
            (plugin.manifest or {}).get("version") or entry.get("version") or commit
        )

        at_marketplace_root = source.kind == "relative" and root == self.root
        folders = discovery.skill_folders(tree, root, entry, plugin.manifest, at_marketplace_root,
                                          plugin.where(root or "."), problems)
        plugin.root, plugin.skill_folders = root, folders
        plugin.tree = tree  # its content besides skills is taken once every plugin's skills are known
        return plugin

    def _plugin_tree(self, plugin, location):
        """(tree, root path in it, commit) for a plugin's source, or Nones with a problem."""
        source, problems = plugin.source, plugin.problems
        if source.kind == "relative":
            tree, root, commit = self.tree, join_inside(self.root, source.path), self.commit
        elif not self.fetch_sources:
            problems.info(
                "source-not-checked",
                f"Not checked: {source.url} was not fetched (validation reads only this repository); "
                "run validate_marketplace with --fetch to read this plugin",
                location,
            )
            return None, None, None
        else:
            fetched = self._fetch_source(source)
            if isinstance(fetched, GitError):
                withheld = (self.token and addresses.same_origin(source.url, self.url)
                            and not addresses.within_reach(source.url, self.url, self.token_reach))
                problems.error("source-fetch-failed", f"Could not fetch {source.url}: {fetched}" + (
                    ". The marketplace's access token was not sent: the marketplace's \"Token reaches\" setting "
                    "keeps it from that repository" if withheld else ""), location, detail=fetched.detail)
                return None, None, None
            if fetched.tree is None:
                try:
                    fetched.tree = self._tree(fetched.repo, fetched.commit)
                except GitError as exc:
                    fetched.tree = exc  # each plugin of the source is told, without reading it again
            if isinstance(fetched.tree, GitError):
                problems.error("source-unreadable", f"Could not read {source.url} at {fetched.commit[:12]}: "
                               f"{fetched.tree}", location, detail=fetched.tree.detail)
                return None, None, None
            tree, root, commit = fetched.tree, source.path, fetched.commit
        try:
            found = tree.kind(root)
        except Escape:
            problems.error("symlink-escape", f"Plugin source '{source.raw}' leaves the repository", location)
            return None, None, None
        if found is None:
            problems.error("plugin-source-missing", f"Plugin source path not found: '{root or '.'}'", location)
            return None, None, None
        if found[1] != Tree.DIR:
            if found[1].is_submodule:
                problems.error(
                    "submodule",
                    f"Plugin folder '{root}' is a git submodule; its content is not in this repository",
                    location,
                )
            else:
                problems.error("plugin-source-not-folder", f"Plugin source '{root}' is a file, not a folder", location)
            return None, None, None
        return tree, root, commit

    def _check_types(self, tree, root, plugin, problems) -> None:
        """What Claude Code's validator refuses in the types file its plugin.json names (an entry's it does not
        open, as it opens no entry's component files). Errors, though the plugin loads: the contract is for the
        plugins that build against it."""
        raw = (plugin.manifest or {}).get("types")
        if not (isinstance(raw, str) and raw.startswith("./") and raw.endswith(".d.ts")):
            return  # reported with the field
        try:
            path = join_inside(root, raw)
        except Escape:
            return
        if not tree.is_file(path) or (entry := tree.kind(path)[1]).size > typesfile.MAX_BYTES:
            return  # missing (reported with the field), or past what is judged
        for message in typesfile.problems(tree.read_blob(entry.sha).decode("utf-8", "replace")):
            problems.error("types-not-declarations", f"types: {message}", plugin.where(path))

    def _read_small(self, tree, path, problems):
        entry = tree.kind(path)[1]
        if entry.size > settings.SKILLPORT_MAX_FILE_BYTES:
            problems.error("file-too-large", f"File is {entry.size} bytes, over the file-size limit", path)
            return None
        return tree.read_blob(entry.sha)

    def _unreachable_skill_files(self, plugins) -> set:
        """SKILL.md files present in the repositories we read that no discovery rule reached, each
        reported with where it would have to be (the first MAX_UNREACHABLE_REPORTED of them)."""
        reached = {}
        # The marketplace root (relative sources cannot leave it), and each fetched plugin root.
        scopes = {(id(self.tree), f"{self.root}/" if self.root else "")}
        trees = {id(self.tree): self.tree}
        roots = {}  # tree id -> plugin roots in it, to say where a stray SKILL.md would have to be
        for plugin in plugins:
            for skill in plugin.skills:
                tree = skill.tree
                path = join_inside(skill.folder, "SKILL.md")
                reached.setdefault(id(tree), set()).add(path)
                if tree.is_file(path):  # not one refused beside another spelling of it (discovery._holds_skill_md)
                    reached[id(tree)].add(tree.resolve(path))
            if plugin.source is not None and plugin.source.fetched and not plugin.failed:
                tree = plugin.skills[0].tree if plugin.skills else self._fetch_source(plugin.source).tree
                trees[id(tree)] = tree
                scopes.add((id(tree), f"{plugin.root}/" if plugin.root else ""))
            if plugin.source is not None and not plugin.failed and (plugin.source.kind == "relative" or plugin.skills):
                tree_id = id(plugin.skills[0].tree) if plugin.skills else id(self.tree)
                roots.setdefault(tree_id, []).append(plugin)
        unreachable = set()
        for tree_id, prefix in scopes:
            seen = reached.get(tree_id, set())
            unreachable.update(
                (tree_id, path)
                for path in trees[tree_id].entries
                if path.startswith(prefix) and posixpath.basename(path) == "SKILL.md" and path not in seen
            )
        stray = sorted(unreachable, key=lambda item: item[1])
        for tree_id, path in stray[:MAX_UNREACHABLE_REPORTED]:
            self.catalog.problems.info("skill-unreachable",
                                       _where_it_would_load(path, roots.get(tree_id, []), trees[tree_id]), path)
        if len(stray) > MAX_UNREACHABLE_REPORTED:
            self.catalog.problems.info(
                "skill-unreachable",
                f"{len(stray) - MAX_UNREACHABLE_REPORTED} more SKILL.md files are not reached by any plugin",
            )
        return unreachable


def _readme(tree, root) -> str:
    """The README.md at the top of a plugin's folder (in any case, as GitHub finds it), when it is
    text of at most README_MAX_BYTES; "" otherwise."""
    for name in tree.listdir(root):
        if name.lower() != "readme.md" or not tree.is_file(path := join_inside(root, name)):
            continue
        entry = tree.kind(path)[1]
        content = tree.read_blob(entry.sha) if entry.size <= README_MAX_BYTES else b""
        if content.startswith(LFS_HEADER) or b"\0" in content:
            return ""
        return content.decode("utf-8", "replace")
    return ""


def catalog_root(catalog_path: str) -> str:
    """The folder relative sources start from: the one holding `.claude-plugin/`. Raises Escape."""
    folder = posixpath.dirname(join_inside("", catalog_path))
    return posixpath.dirname(folder) if posixpath.basename(folder) == ".claude-plugin" else folder


def _where_it_would_load(path: str, plugins, tree) -> str:
    """Say why a SKILL.md at `path` is no skill, and where it would have to be to be one."""
    folder = posixpath.dirname(path)
    owner = max(
        (p for p in plugins if not p.root or folder == p.root or folder.startswith(f"{p.root}/")),
        key=lambda p: len(p.root), default=None,
    )
    if owner is None:
        return (f"'{path}' is outside every plugin, so Claude Code never loads it. Move its folder into a plugin's "
                "skills/ folder, or list a plugin whose source is the folder that holds it")
    if discovery.too_large_for_claude_code(tree, path):
        return (f"'{path}' is over the {discovery.CLAUDE_CODE_SKILL_MD_BYTES:,} bytes Claude Code reads, so it "
                "skips it and looks in the folders beside it instead: move detail into files the SKILL.md links to")
    name = posixpath.basename(folder) or "my-skill"
    root = f"{owner.root}/" if owner.root else ""
    if posixpath.dirname(folder) == f"{root}skills" and tree.is_file(f"{root}skills/SKILL.md"):
        return (f"'{path}' is in the skills/ folder of plugin '{owner.name}', but Claude Code loads {root}skills/SKILL.md "
                "there as the one skill and looks in no folder beside it: move that SKILL.md (and its files) into a "
                "folder of its own, such as skills/main/")
    return (f"'{path}' is in plugin '{owner.name}' but not where Claude Code looks for skills: move it to "
            f"'{root}skills/{name}/SKILL.md', or add './{posixpath.relpath(folder, owner.root or '.')}' to the "
            "plugin's 'skills' list")


def _take_own_contents(plugins):
    """Each plugin's content besides skills (plugincontent), less every skill folder of its repository,
    its own or another plugin's: plugins at the top of one repository that list their skills
    (`"source": "./"`) hold each other's folders, which are skills, approved and scanned as such. Taken
    as each plugin's own, every skill change marked the others' hooks and servers as changed.
    (approval.settle pins such a plugin only while the skills it holds are approved.)"""
    folders, files = {}, {}
    for plugin in plugins:
        if plugin.tree is not None:
            folders.setdefault(id(plugin.tree), set()).update(skill.folder for skill in plugin.skills)
    for plugin in plugins:
        if plugin.tree is not None:
            # Walked once a folder: thousands of plugins at a repository's top walked all of it each.
            key = (id(plugin.tree), plugin.root)
            if key not in files:
                files[key] = plugincontent.own_files(plugin.tree, plugin.root, folders[id(plugin.tree)])
            content = plugincontent.own_content(files[key], plugin.entry, plugin.manifest)
            plugin.own_content, plugin.own_hash = plugincontent.kept(content), plugincontent.digest(content)


def _read_together(plugins) -> dict[int, list]:
    """{id(tree): the plugins read from it}: one repository at one commit each."""
    together = {}
    for plugin in plugins:
        if plugin.tree is not None:
            together.setdefault(id(plugin.tree), []).append(plugin)
    return together


def _find_holdings(plugins):
    """Each plugin's `holds`, among the plugins read from the same repository at the same commit (_holding)."""
    for reading in _read_together(plugins).values():
        _holding(reading)


def _holding(plugins):
    """Each plugin's `holds`: the others of `plugins` (read from one repository at one commit) whose folder, or a
    skill of which, lies in its folder. Claude Code installs that folder whole, their files included, so only those
    who may see them get the plugin (curated._listed). Sorted, each plugin looks at the folders below its own alone
    (one at the top holds every other)."""
    owners = sorted([(skill.folder, plugin.name) for plugin in plugins for skill in plugin.skills]
                    + [(plugin.root, plugin.name) for plugin in plugins])
    folders = [folder for folder, _owner in owners]
    for plugin in plugins:
        root = plugin.root
        if root:
            # Its folder itself (a skill at another plugin's top), then what lies below it: looked up apart, as a-b
            # sorts between a and a/.
            held, below = bisect.bisect_left(folders, root), span(folders, root)
            others = (owner for _folder, owner in itertools.chain(
                itertools.islice(owners, held, bisect.bisect_right(folders, root)),
                itertools.islice(owners, below.start, below.stop)) if owner != plugin.name)
        else:
            others = (other.name for other in plugins if other is not plugin)
        found = set()
        for other in others:  # each name once: one plugin may own many of the folders below
            found.add(other)
            if len(found) > MOST_HELD:
                break
        if len(found) <= MOST_HELD:
            plugin.holds = sorted(found)
            continue
        # A catalogue of thousands of plugins at its top would make that many names for each of them.
        plugin.holds = [HOLDS_TOO_MANY]
        plugin.problems.warning(
            "holds-unchecked",
            f"The plugin's folder holds more than {MOST_HELD} other plugins, or skills of them, which Claude Code would "
            "install with it: more than Skillport checks one by one, so curated catalogues leave it out. Give it a "
            "folder of its own",
            plugin.where(root or "."),
        )


def _report_unread(plugins):
    """Names Skillport refused anywhere Claude Code installs a plugin from (its folder, and what symlinks in it
    lead to) are files nobody here read, scanned or approved, which Claude Code would install from the
    plugin's commit all the same: the hooks.json of a pair that differs in case, a command named aux.md.
    approval.settle keeps such a plugin's approved commit (what the curated catalogue pins and publishing
    copies) at the last one without them. Plugins sharing a folder (`"./"`) share its walk."""
    walked = {}
    for plugin in plugins:
        if plugin.tree is None:
            continue
        key = (id(plugin.tree), plugin.root)
        if key not in walked:
            walked[key] = plugin.tree.refused_below(plugin.root)
        if unread := walked[key]:
            plugin.problems.error(
                "unread-files",
                f"{len(unread)} name(s) in the plugin are not read ({', '.join(unread[:20])}): Claude Code would "
                "install them unreviewed, so its catalogue and publishing keep the last commit without them. "
                "Rename them",
                plugin.where(plugin.root or "."),
            )


def _report_links_out(plugins):
    """Links in a plugin's folder leading out of it, which members installing it from the curated catalogue do not
    get (Tree.links_leaving): what uses them will not work, and a skill behind one is installed on its own instead."""
    for plugin in plugins:
        if not plugin.links_out:
            continue
        prefix = f"{plugin.root}/"
        named = ", ".join(link.removeprefix(prefix) for link in plugin.links_out[:10])
        more = f" and {len(plugin.links_out) - 10} more" if len(plugin.links_out) > 10 else ""
        plugin.problems.warning(
            LINKS_OUT,
            f"{len(plugin.links_out)} symbolic link(s) in the plugin lead out of its folder ({named}{more}): Claude "
            "Code installs the plugin from Skillport's curated catalogue (a git-subdir source) without them, so what "
            "uses them will not work there. Put the files in the plugin's folder",
            plugin.where(plugin.root or "."),
        )


def _find_rewritten(plugins, repositories):
    """Each plugin's `rewritten`: the files git rewrites as members check its commit out (gitattributes.py), for
    Claude Code installs other bytes than Skillport read, scanned and approved. One question to git per repository
    read; where git could not answer, the plugin is told so."""
    for key, reading in _read_together(plugins).items():
        try:
            rewritten = gitattributes.rewritten(repositories[key], reading[0].commit, reading[0].tree,
                                                [plugin.root for plugin in reading])
        except GitError as exc:
            for plugin in reading:
                plugin.problems.warning(REWRITES, f"Whether a checkout rewrites the plugin's files is not known: {exc}",
                                        plugin.where(plugin.root or "."))
            continue
        for plugin in reading:
            plugin.rewritten = rewritten


def _report_rewritten(plugins):
    """The plugins some of whose files a checkout rewrites (_find_rewritten), naming them; skillfolder.scan tells
    each skill of its own."""
    for plugin in plugins:
        if plugin.rewritten is None or not (count := plugin.rewritten.count(plugin.root)):
            continue
        plugin.problems.warning(
            REWRITES,
            f"The repository's .gitattributes make git rewrite {count} of the plugin's file(s) as it checks them out "
            f"({plugin.rewritten.listed(plugin.root)}): Claude Code installs those bytes, not the ones "
            "Skillport read, scanned and approved, and a skill's installed copy no longer matches its provenance "
            "digest. Remove these attributes for the plugin's files",
            plugin.where(plugin.root or "."),
        )


def _check_component_paths(declared: dict, tree, root: str, location: str, problems, entry=False) -> None:
    """Component paths of a plugin.json, or of an `entry`, that the plugin does not hold or that lead into
    `.mcpb-cache`: Claude Code loads the plugin without each (`claude plugin list` names the error; its session
    offers the plugin's skills all the same), and of an entry's looks only for the ENTRY_LOADED. Its validator
    refuses a plugin.json's and opens no entry's, so an entry's are warnings. (discovery.skill_folders reports
    the `skills` paths.)"""
    experimental = declared.get("experimental") if isinstance(declared.get("experimental"), dict) else {}
    # Where both are declared, Claude Code reads the one under `experimental`.
    fields = [(key, declared.get(key)) for key in sorted(manifest.COMPONENT_KEYS - {"skills"})
              if experimental.get(key) is None or key not in manifest.MOVED_TO_EXPERIMENTAL]
    fields += [(f"experimental.{key}", experimental.get(key)) for key in manifest.MOVED_TO_EXPERIMENTAL]
    for key, value in fields:
        if entry and key not in ENTRY_LOADED:
            continue
        for raw in manifest.component_paths(value):
            if not raw.startswith("./"):
                continue  # reported with the field
            if _in_mcpb_cache(root, raw):
                discovery.report_mcpb_cache(key, raw, not entry, location, problems)
            elif not _holds(tree, root, raw):
                consequence = ("Claude Code skips a missing MCP servers file without a word, so none of its servers "
                               "load" if key == "mcpServers" else "Claude Code loads the plugin without it")
                (problems.warning if entry else problems.error)(
                    "component-path-missing", f"{key}: Path not found: {raw}. {consequence}; fix the path or remove it",
                    location)


def _in_mcpb_cache(root: str, raw: str) -> bool:
    try:
        return in_mcpb_cache(join_inside(root, raw), root)
    except Escape:
        return False  # reported with the field


def _unmet_dependencies(plugins, marketplace: str, catalog_path: str) -> None:
    """A plugin whose dependencies lead round in a circle, which Claude Code will not install, and one it installs
    without a plugin of its marketplace it depends on and will not load (dependencies.py): one not listed, one
    Claude Code will not install, or one that lacks its own."""
    by_name = {plugin.name: plugin for plugin in plugins}
    needs = {plugin.name: dependencies.own(plugin.entry, plugin.manifest, marketplace) for plugin in plugins}
    # Claude Code looks for circles in what marketplace entries ask for, before it installs anything; a plugin.json's
    # dependencies may lead round in one (to the plugin itself, even), and all of them install and load.
    circling = dependencies.cycles({plugin.name: dependencies.own(plugin.entry, None, marketplace) for plugin in plugins})
    installed_with_others = set()  # refused alone, a plugin in a circle installs as another's dependency all the same
    for name, path in circling.items():
        plugin = by_name[name]
        cycle = " → ".join(path) + ("" if path[-1] in path[:-1] else " → …")
        # Its validator says nothing; `claude plugin install` refuses it ("Dependency cycle: ...").
        plugin.problems.warning(
            "dependency-cycle",
            f"dependencies: {cycle} leads round in a circle, and Claude Code will not install {name}. Remove the "
            "dependency that closes it",
            f"{catalog_path}: plugins[{plugin.index}] ({name})",
        )
        if plugin.installs:
            plugin.loads = plugin.installs = False
            plugin.refusal = f"its dependencies lead round in a circle ({cycle})"
            installed_with_others.add(name)
    lacking = _versions_required(plugins, by_name, marketplace, catalog_path)
    present = [p.name for p in plugins if p.installs or p.name in installed_with_others]
    for name, unmet in dependencies.unmet(needs, present, lacking).items():
        plugin = by_name[name]
        for written, transitive in unmet:
            needed = by_name.get(written.partition("@")[0])
            if transitive:
                which, why, advice = "will not load", "does not load for want of its own dependencies", "Fix it"
            elif needed is not None:
                which = "Claude Code will not install"
                why, advice = f"is a plugin {which} ({needed.refusal})", "Fix it"
            else:
                which, why = "its marketplace does not list", "is not a plugin of this marketplace"
                advice = (f"List it here, or name its marketplace ('{written.partition('@')[0]}@other-marketplace') "
                          "and allow that one in allowCrossMarketplaceDependenciesOn")
            plugin.problems.warning(
                "dependency-missing",
                f"dependencies: '{written}' {why}: Claude Code installs {name} without it, and will not load it. "
                f"{advice}",
                f"{catalog_path}: plugins[{plugin.index}] ({name})",
            )
            if plugin.loads:
                plugin.loads, plugin.refusal = False, f"it depends on {written}, which {which}"


def _other_marketplaces(plugins, catalog, catalog_path: str) -> None:
    """A dependency on another marketplace's plugin that the catalogue does not allow
    (allowCrossMarketplaceDependenciesOn): Claude Code installs it with the plugin only where it is allowed, and
    otherwise refuses the install, or installs the plugin alone, which then does not load, unless the member has
    installed that one first. Its validator says nothing."""
    for plugin in plugins:
        for written in dependencies.declared(plugin.entry, plugin.manifest):
            name, _, market = written.partition("@")
            if market in ("", catalog.name) or market in catalog.cross_marketplace:
                continue
            plugin.problems.warning(
                "dependency-not-allowed",
                f"dependencies: '{written}' is a plugin of the {market} marketplace, which this one does not let its "
                f"plugins depend on: Claude Code will not install it with {plugin.name}, and installs {plugin.name} "
                f"only where the member has installed it first. Add \"{market}\" to the catalogue's "
                "allowCrossMarketplaceDependenciesOn",
                f"{catalog_path}: plugins[{plugin.index}] ({plugin.name})",
            )


def _versions_required(plugins, by_name: dict, marketplace: str, catalog_path: str) -> set:
    """The plugins whose plugin.json asks for a version of a dependency its marketplace does not hold (Claude Code
    installs them, and will not load them), by name; one that asks in words that are no range Claude Code will not
    install, which its dependents are told first."""
    asked = [(plugin, *constraint) for plugin in plugins
             for constraint in dependencies.constraints(plugin.manifest, marketplace)]
    for plugin, written, _name, required in asked:
        if plugin.installs and dependencies.satisfies("", required) is None:
            # Its validator says nothing; `claude plugin install` refuses it ("an invalid version requirement").
            said = inline.received(" ".join(required.split()))
            plugin.problems.warning(
                "dependency-version", f"dependencies: '{written}' version {said} is not a range of versions, and "
                f'Claude Code will not install {plugin.name}. Write one such as "^1.2.0" or ">=2"',
                f"{catalog_path}: plugins[{plugin.index}] ({plugin.name})")
            plugin.loads = plugin.installs = False
            plugin.refusal = f"it asks for {written} by a version that is no range ({said})"
    lacking = set()
    for plugin, written, name, required in asked:
        needed = by_name.get(name)
        if not plugin.installs or needed is None or not needed.installs:
            continue  # not installed, or missing the dependency itself: said elsewhere
        declared = (needed.manifest or {}).get("version") or needed.entry.get("version")
        version = declared if isinstance(declared, str) else ""
        if dependencies.satisfies(version, required):
            continue
        installed = f"is {inline.received(version)}" if version else "declares no version"
        required = inline.received(" ".join(required.split()))
        plugin.problems.warning(
            "dependency-version", f"dependencies: '{written}' {required} is required, and {name} {installed}: "
            f"Claude Code installs {plugin.name}, and will not load it. Ask for a version {name} has, or give "
            f"{name} one this allows", f"{catalog_path}: plugins[{plugin.index}] ({plugin.name})")
        if plugin.loads:
            plugin.loads, plugin.refusal = False, f"it requires {written} {required}, and {name} {installed}"
        lacking.add(plugin.name)
    return lacking


def _holds(tree, root: str, raw: str) -> bool:
    """Whether the plugin at `root` holds anything at its relative path `raw` (one leaving it is reported with
    the field, and held here)."""
    try:
        return tree.kind(join_inside(root, raw)) is not None
    except Escape:
        return True


def _failed(plugin) -> PluginData:
    plugin.failed = True
    return plugin


def _surfaces(tags) -> list[str]:
    if not isinstance(tags, list):
        return list(ALL_SURFACES)
    chosen = [s for tag in tags if isinstance(tag, str) for s in SURFACE_TAGS.get(tag, [])]
    return sorted(set(chosen)) if chosen else list(ALL_SURFACES)


def _is_local_url(url: str) -> bool:
    return is_local(url) or not re.match(r"^(https?|ssh|git)://|^[\w.-]+@[\w.-]+:", url)



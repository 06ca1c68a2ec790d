"""Read a marketplace repository into a Snapshot: plugins, skills and files, with every problem.

The reader touches git and nothing else, so `validate_marketplace` runs it offline and the
sync runs it before opening a transaction. It works in two steps:

1. `prepare()` fetches the marketplace and every git source its entries name, and parses the
   catalogue. Its `fingerprint` changes whenever anything the catalogue depends on changes,
   so an unchanged marketplace is recognised without reading a single skill.
2. `read()` discovers plugins and skills, hashes each skill folder from the tree listing, and
   reads blobs only for skills whose hash the caller does not already know.
"""
import hashlib
import json
import logging
import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.text import slugify

from . import discovery, manifest, skillmd, verdicts
from .gitrepo import GitError, Repository, is_local
from .problems import CatalogError, Problem, Problems
from .spoofing import spoofing_problem
from .tree import MAX_DEPTH, Escape, Tree, join_inside

log = logging.getLogger(__name__)

# Bump when reading rules change, so the next sync re-reads an unchanged commit.
READER_VERSION = 3
DEFAULT_CATALOG_PATH = ".claude-plugin/marketplace.json"
JUNK_DIRS = {"__pycache__", "node_modules", ".git"}
LFS_HEADER = b"version https://git-lfs.github.com/spec/v1"
SURFACE_TAGS = {
    "surface:CC": ["claude_code"],
    "surface:CD": ["claude_desktop"],
    "surface:CAI": ["claude_ai"],
    "surface:CDAI": ["claude_desktop", "claude_ai"],
    "surface:CALL": ["claude_code", "claude_desktop", "claude_ai"],
}
ALL_SURFACES = ["claude_code", "claude_desktop", "claude_ai"]
MAX_UNREACHABLE_REPORTED = 50  # some repositories hold thousands: the count says the rest
# Problems that leave part of a plugin unread or unloaded (the rest say how it is named or described).
NOT_READ_CODES = {
    "skill-md-unreadable", "symlink-escape", "submodule", "path-traversal", "duplicate-skill-name",
    "access-json-invalid", "unsafe-file-name", "folder-too-deep", "json-too-deep", "name-too-long", "path-too-long",
    "unstorable-text",
}


@dataclass
class FileData:
    path: str  # relative to the skill folder
    mode: str
    size: int
    sha: str
    omitted: str = ""  # why the content was not stored, if it was not
    is_binary: bool = False


@dataclass
class SkillData:
    folder: str  # path of the skill folder inside its source repository
    folder_name: str
    content_hash: str
    files: list
    problems: list
    known: bool = False  # the caller already has this exact content; nothing else was read
    name: str = ""
    slug: str = ""
    description: str = ""
    frontmatter: dict = field(default_factory=dict)
    frontmatter_raw: str = ""
    body: str = ""
    verdicts: dict = field(default_factory=dict)
    tree: Tree | None = field(default=None, repr=False)  # where the files are read from
    plugin: "PluginData | None" = field(default=None, repr=False)
    where: str = ""  # the location its problems name


@dataclass
class PluginData:
    name: str
    index: int
    entry: dict
    source: manifest.Source | None
    manifest: dict | None = None
    display: dict = field(default_factory=dict)
    version: str = ""
    commit: str = ""
    root: str = ""  # the plugin folder inside its source repository
    failed: bool = False  # could not be read this time: keep whatever was synced before
    loads: bool = True  # would Claude Code load it at all?
    refusal: str = ""  # why it would not, in words for the skills' verdicts
    surfaces: list = field(default_factory=lambda: list(ALL_SURFACES))
    skills: list = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)


@dataclass
class Snapshot:
    commit: str
    catalog: manifest.Catalog
    plugins: list
    access: dict | None  # None: present but unreadable
    fingerprint: str
    unreachable_skill_files: int = 0

    @property
    def incomplete(self) -> bool:
        """Something the repository holds was not read, or does not load in Claude Code: a sync of
        it is `partial` (README, "Sync statuses"). Naming and metadata errors alone are not."""
        return (
            self.catalog.dropped > 0
            or self.access is None
            or any(plugin.failed or not plugin.loads for plugin in self.plugins)
            or any(problem.code in NOT_READ_CODES for problem in self.problems)
        )

    @property
    def problems(self) -> list[Problem]:
        found = list(self.catalog.problems)
        for plugin in self.plugins:
            found += plugin.problems
            for skill in plugin.skills:
                found += skill.problems
        return found


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
    tree: Tree | None = None


class Reader:
    def __init__(self, url, *, ref="", catalog_path="", token=None, known_skills=None,
                 blob_sink=None, progress=None, fetch_sources=True):
        self.url = url
        self.fetch_sources = fetch_sources  # False: git sources are listed as not checked, never cloned
        self.ref = ref
        self.catalog_path = catalog_path or DEFAULT_CATALOG_PATH
        self.token = token
        self.known_skills = known_skills or {}
        self.blob_sink = blob_sink or NullBlobSink()
        self.progress = progress or (lambda phase, done, total: None)
        self._readers = {}
        self._fetched = {}  # (url, ref, sha) -> _Source or GitError
        self.commit = ""
        self.catalog = None

    # -- step 1 ------------------------------------------------------------------------

    def prepare(self) -> str:
        """Fetch and parse the catalogue and fetch every git source; return the fingerprint."""
        self.progress("fetch", 0, 1)
        try:
            self.repo, self.commit = Repository.fetch(self.url, ref=self.ref, token=self.token)
        except GitError as exc:
            raise CatalogError("fetch-failed", f"Could not fetch the marketplace: {exc}", detail=exc.detail) from None
        self.tree = Tree(self.repo.list_tree(self.commit), self._reader(self.repo).read)
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
            path = join_inside("", self.catalog_path)
        except Escape:
            raise CatalogError("path-traversal", f"Catalogue path '{self.catalog_path}' leaves the repository") from None
        folder = posixpath.dirname(path)
        return posixpath.dirname(folder) if posixpath.basename(folder) == ".claude-plugin" else folder

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
            token = self.token if _same_host(source.url, self.url) else None
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
        self._read_new_skills(plugins)
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

    def close(self):
        for reader in self._readers.values():
            reader.close()
        self._readers = {}

    def _reader(self, repo):
        if repo.git_dir not in self._readers:
            self._readers[repo.git_dir] = repo.blobs()
        return self._readers[repo.git_dir]

    def _read_access(self) -> dict | None:
        """Skillport's own `.skillport/access.json` (FORMAT.md §8); absent means everyone reads.

        None when the file exists but cannot be read: a typo must not open restricted skills
        to everyone, so the caller keeps the last rules it could read.
        """
        path = join_inside(self.root, ".skillport/access.json")
        if not self.tree.is_file(path):
            return {}
        raw = self.tree.read_blob(self.tree.kind(path)[1].sha)
        return manifest.load_object(
            raw, path, self.catalog.problems, "access-json-invalid", "; the last readable rules stay"
        )

    def _read_plugin(self, index, entry, location) -> PluginData:
        plugin = PluginData(name=entry["name"], index=index, entry=entry, source=None)
        problems = plugin.problems
        for key in sorted(set(entry) - manifest.ENTRY_KEYS):
            problems.warning("unknown-field", f"Unrecognized field '{key}' will be ignored", location)
        plugin.surfaces = _surfaces(entry.get("tags"))
        components, display = manifest.check_fields(entry, location, problems)
        # Claude Code refuses to install a plugin whose marketplace entry breaks its schema.
        refusal = "; ".join(components + display)
        if "source" not in entry:
            problems.error("plugin-missing-source", "source: Required", location)
            return _failed(plugin)
        source = manifest.parse_source(entry["source"], self.catalog, location, problems, settings.SKILLPORT_GITHUB_URL)
        plugin.source = source
        if source is None:
            return _failed(plugin)
        plugin.display = {k: entry[k] for k in manifest.DISPLAY_KEYS if k in entry}
        if not source.fetched and source.kind != "relative":
            plugin.version = str(entry.get("version") or "")
            return plugin  # listed for Claude Code; nothing for Skillport to read

        tree, root, commit = self._plugin_tree(plugin, location)
        if tree is None:
            return _failed(plugin)
        plugin.commit = commit

        plugin_json = join_inside(root, ".claude-plugin/plugin.json")
        if tree.is_file(plugin_json):
            raw = self._read_small(tree, plugin_json, problems)
            if raw is not None:
                plugin.manifest, manifest_refusal = manifest.parse_plugin_json(
                    raw, self._where(plugin, plugin_json), problems, plugin.name, self.catalog.official
                )
                refusal = refusal or manifest_refusal
        strict = entry.get("strict", True)
        if not isinstance(strict, bool):
            problems.warning("strict-not-boolean", "strict: Expected boolean; treated as true", location)
            strict = True
        entry_components = manifest.COMPONENT_KEYS & set(entry)
        if plugin.manifest is not None and not strict and entry_components:
            # Claude Code (2.1.332) installs and validates it; FORMAT.md's older reading refused it.
            problems.warning(
                "strict-conflict",
                "Plugin has both a plugin.json and component fields in its marketplace entry "
                f"({', '.join(sorted(entry_components))}) with strict: false, so which one declares its components "
                "is easy to misread. Keep them in one place: in plugin.json (and strict: true), or in the entry only",
                location,
            )
        plugin.loads, plugin.refusal = not refusal, refusal
        if plugin.manifest:
            plugin.display.update({k: plugin.manifest[k] for k in manifest.DISPLAY_KEYS if k in plugin.manifest})
        plugin.version = str(
            (plugin.manifest or {}).get("version") or entry.get("version") or commit
        )

        listed = manifest.component_paths(entry.get("skills"))
        manifest_paths = manifest.component_paths((plugin.manifest or {}).get("skills"))
        replaces_scan = source.kind == "relative" and root == self.root and strict is False
        folders = discovery.skill_folders(tree, root, manifest_paths + listed, replaces_scan,
                                          self._where(plugin, root or "."), problems, manifest_paths)
        # Names of new skills are known only once read; _dedupe_skills runs after that.
        plugin.root = root
        plugin.skills = [self._scan_skill(tree, folder, plugin) for folder in folders]
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
                problems.error("source-fetch-failed", f"Could not fetch {source.url}: {fetched}", location,
                               detail=fetched.detail)
                return None, None, None
            if fetched.tree is None:
                fetched.tree = Tree(fetched.repo.list_tree(fetched.commit), self._reader(fetched.repo).read)
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

    def _where(self, plugin, path):
        if plugin.source and plugin.source.fetched:
            return f"{plugin.source.url}@{plugin.commit[:12]}:{path}"
        return path

    def _read_small(self, tree, path, problems):
        entry = tree.kind(path)[1]
        if entry.size > settings.SKILLPORT_MAX_FILE_BYTES:
            problems.error("file-too-large", f"File is {entry.size} bytes, over the file-size limit", path)
            return None
        return tree.read_blob(entry.sha)

    def _scan_skill(self, tree, folder, plugin) -> SkillData:
        """List a skill folder's files and hash them; no file content is read here."""
        problems = Problems()
        where = self._where(plugin, folder or ".")

        def on_problem(kind, rel):
            messages = {
                "escape": ("symlink-escape", error, f"Symlink '{rel}' points outside the repository; not read"),
                "broken": ("symlink-broken", warning, f"Symlink '{rel}' points to nothing"),
                "submodule": ("submodule", warning, f"'{rel}' is a git submodule; its content is not in this repository"),
                "unsafe-name": ("unsafe-file-name", error,
                                f"{rel!r} is not a safe file name (empty, '.', '..', a backslash, a drive, "
                                "a control character or not UTF-8); not read"),
                "too-deep": ("folder-too-deep", error,
                             f"'{rel}' is nested more than {MAX_DEPTH} folders deep; nothing below it is read"),
            }
            code, add, message = messages[kind]
            add(code, message, where)
            skipped.append(f"{kind} {rel}")

        error, warning = problems.error, problems.warning
        skipped = []  # escaping or broken links and submodules change what the skill is too
        files = []
        for rel, entry in tree.walk(folder, on_problem):
            parts = rel.split("/")
            if JUNK_DIRS & set(parts[:-1]) or parts[-1] == ".DS_Store" or rel.endswith(".pyc"):
                continue  # never part of a skill package (FORMAT.md §5)
            files.append(FileData(rel, entry.mode, entry.size, entry.sha))
        files.sort(key=lambda f: (f.path != "SKILL.md", f.path))
        self._apply_limits(files, problems, where)
        folder_name = posixpath.basename(folder) or plugin.name
        material = "\n".join([folder_name, *skipped, *(f"{f.mode} {f.sha} {f.size} {f.omitted} {f.path}" for f in files)])
        if plugin.refusal:  # the same files in a plugin Claude Code refuses are a skill that does not load
            material += f"\nrefused {plugin.refusal}"
        content_hash = hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()
        skill = SkillData(folder, folder_name, content_hash, files, problems)
        known = self.known_skills.get(content_hash)
        if known is not None:
            skill.known = True
            skill.name, skill.slug = known["name"], known["slug"]
            skill.problems = [Problem(**p) for p in known["problems"]]
        skill.tree, skill.plugin, skill.where = tree, plugin, where
        return skill

    def _apply_limits(self, files, problems, where):
        total, kept = 0, 0
        for f in files:
            if kept >= settings.SKILLPORT_MAX_SKILL_FILES:
                f.omitted = "too-many-files"
            elif f.size > settings.SKILLPORT_MAX_FILE_BYTES:
                f.omitted = "file-too-large"
                problems.warning(
                    "file-too-large",
                    f"'{f.path}' is {f.size} bytes, over the {settings.SKILLPORT_MAX_FILE_BYTES}-byte file limit; not stored",
                    where,
                )
            elif total + f.size > settings.SKILLPORT_MAX_SKILL_BYTES:
                f.omitted = "skill-too-large"
            else:
                total += f.size
                kept += 1
        over_count = sum(f.omitted == "too-many-files" for f in files)
        if over_count:
            problems.warning(
                "too-many-files",
                f"Skill has more than {settings.SKILLPORT_MAX_SKILL_FILES} files; {over_count} not stored",
                where,
            )
        over_size = sum(f.omitted == "skill-too-large" for f in files)
        if over_size:
            problems.warning(
                "skill-too-large",
                f"Skill is over the {settings.SKILLPORT_MAX_SKILL_BYTES}-byte skill limit; {over_size} file(s) not stored",
                where,
            )

    def _read_new_skills(self, plugins):
        """Read blobs and parse SKILL.md for every skill whose content hash is new."""
        new = [s for p in plugins for s in p.skills if not s.known]
        shas = list({f.sha for s in new for f in s.files if not f.omitted})
        known_blobs = {}
        for start in range(0, len(shas), 5000):
            known_blobs.update(self.blob_sink.known(shas[start:start + 5000]))
        for done, skill in enumerate(new):
            if done % 50 == 0:
                self.progress("skills", done, len(new))
            self._read_skill(skill, known_blobs)
        self.blob_sink.flush()
        self.progress("skills", len(new), len(new))
        for plugin in plugins:
            self._dedupe_skills(plugin)

    def _read_skill(self, skill, known_blobs):
        tree, plugin = skill.tree, skill.plugin
        problems = Problems(skill.problems)
        where = self._where(plugin, skill.folder or ".")
        read = tree.read_blob
        skill_md_raw, unreadable = None, ""
        for f in skill.files:
            if f.omitted:
                if f.path == "SKILL.md":
                    unreadable = "SKILL.md is over the file-size limit"
                continue
            info = known_blobs.get(f.sha)
            if info is not None and f.path != "SKILL.md":
                f.is_binary, is_lfs = info
            else:
                content = read(f.sha)
                f.is_binary = is_binary(content)
                is_lfs = content.startswith(LFS_HEADER) and f.size < 1024
                if info is None:
                    self.blob_sink.put(f.sha, content, f.is_binary, is_lfs)
                    known_blobs[f.sha] = (f.is_binary, is_lfs)
                if f.path == "SKILL.md":
                    skill_md_raw = content
            if is_lfs:
                problems.warning(
                    "lfs-pointer", f"'{f.path}' is a Git LFS pointer; its content is not in the repository", where
                )
                if f.path == "SKILL.md":
                    unreadable = "SKILL.md is a Git LFS pointer"
            elif f.is_binary and f.path == "SKILL.md":
                unreadable = "SKILL.md is a binary file"
        if skill_md_raw is None and not unreadable:
            unreadable = "SKILL.md could not be read"
        if unreadable:
            problems.error("skill-md-unreadable", f"{unreadable}; the skill cannot load", where)
            skill_md_raw = b""
        parsed = skillmd.parse(skill_md_raw)
        for code, message in parsed.repairs:
            problems.warning(code, message, f"{where}/SKILL.md")
        fm = parsed.frontmatter
        name = fm.get("name") if isinstance(fm.get("name"), str) and fm.get("name").strip() else skill.folder_name
        skill.name = name.strip()
        spoofed = spoofing_problem(skill.name, "Skill name")
        if spoofed:
            problems.error(*spoofed, where)
        skill.slug = _slug(skill.name) or _slug(skill.folder_name) or skill.content_hash[:12]
        description = fm.get("description")
        if isinstance(description, str) and description.strip():
            skill.description = description.strip()
        elif description is not None and not isinstance(description, str):
            skill.description = json.dumps(description)
        else:
            skill.description = skillmd.first_paragraph(parsed.body)
            if skill.description:
                problems.info("description-from-body", "No description in frontmatter; using the first paragraph", where)
        skill.frontmatter, skill.frontmatter_raw, skill.body = fm, parsed.frontmatter_raw, parsed.body
        nested = [f.path for f in skill.files if f.path.endswith("/SKILL.md")]
        kept = [f for f in skill.files if not f.omitted]
        cc = verdicts.claude_code(parsed, unreadable, spoofed[1] if spoofed else "", plugin.refusal)
        spec = verdicts.agent_skills_spec(parsed, skill.folder_name)
        cai = verdicts.claude_ai(parsed, skill.folder_name, sum(f.size for f in kept), nested,
                                 len(skill.files) - len(kept))
        if unreadable:
            spec, cai = (False, [unreadable]), (False, [unreadable])
        skill.verdicts = {
            "claude_code": {"ok": cc[0], "reasons": cc[1]},
            "agent_skills_spec": {"ok": spec[0], "reasons": spec[1]},
            "claude_ai": {"ok": cai[0], "reasons": cai[1]},
        }
        skill.problems = problems

    def _dedupe_skills(self, plugin):
        """Claude Code invokes skills as `<plugin>:<name>`, so a second skill of one name is shadowed."""
        seen, kept = {}, []
        for skill in plugin.skills:
            if skill.slug in seen:
                plugin.problems.error(
                    "duplicate-skill-name",
                    f"Skill '{skill.name}' in '{skill.folder}' has the same name as the one in '{seen[skill.slug]}'; ignored",
                    self._where(plugin, skill.folder),
                )
                continue
            seen[skill.slug] = skill.folder
            kept.append(skill)
        plugin.skills = kept

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
                reached.setdefault(id(tree), set()).update({path, tree.resolve(path)})
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
            self.catalog.problems.info("skill-unreachable", _where_it_would_load(path, roots.get(tree_id, [])), path)
        if len(stray) > MAX_UNREACHABLE_REPORTED:
            self.catalog.problems.info(
                "skill-unreachable",
                f"{len(stray) - MAX_UNREACHABLE_REPORTED} more SKILL.md files are not reached by any plugin",
            )
        return unreachable


def _where_it_would_load(path: str, plugins) -> str:
    """Say why a SKILL.md at `path` is no skill, and where it would have to be to be one."""
    folder = posixpath.dirname(path)
    owner = max(
        (p for p in plugins if not p.root or folder == p.root or folder.startswith(f"{p.root}/")),
        key=lambda p: len(p.root), default=None,
    )
    if owner is None:
        return (f"'{path}' is outside every plugin, so Claude Code never loads it. Move its folder into a plugin's "
                "skills/ folder, or list a plugin whose source is the folder that holds it")
    name = posixpath.basename(folder) or "my-skill"
    root = f"{owner.root}/" if owner.root else ""
    return (f"'{path}' is in plugin '{owner.name}' but not where Claude Code looks for skills: move it to "
            f"'{root}skills/{name}/SKILL.md', or add './{posixpath.relpath(folder, owner.root or '.')}' to the "
            "plugin's 'skills' list")


def is_binary(content: bytes) -> bool:
    """Git's rule (a NUL byte early on), except for UTF-16 text, which is full of them."""
    return not content.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\0" in content[:8000]


def _failed(plugin) -> PluginData:
    plugin.failed = True
    return plugin


def _slug(name: str) -> str:
    return slugify(name.replace("/", "-").replace(":", "-"))


def _surfaces(tags) -> list[str]:
    if not isinstance(tags, list):
        return list(ALL_SURFACES)
    chosen = [s for tag in tags if isinstance(tag, str) for s in SURFACE_TAGS.get(tag, [])]
    return sorted(set(chosen)) if chosen else list(ALL_SURFACES)


def _is_local_url(url: str) -> bool:
    return is_local(url) or not re.match(r"^(https?|ssh|git)://|^[\w.-]+@[\w.-]+:", url)


def _same_host(a: str, b: str) -> bool:
    host_a, host_b = urlsplit(a).hostname, urlsplit(b).hostname
    return bool(host_a) and host_a == host_b

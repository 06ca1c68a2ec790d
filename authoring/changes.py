"""A proposed change as git objects on top of the tracked branch, read back as a sync would read it.

1. `Change.build` fetches the marketplace into its cached bare repository and reads the tracked
   branch's head with the sync's own Reader, to find the plugin and the skill's folder.
2. It writes the new files as blobs and makes the whole tree (ls-tree of the head, the skill's
   files replaced, added or removed, plugin.json and marketplace.json edited) with a scratch index:
   no checkout, nothing touches a work tree.
3. `problems()` commits that tree (a scratch commit nobody references) and reads it with the same
   Reader: what the sync would report for this plugin and skill, and was not there before, are
   the problems; so are the verdicts' reasons that are new.
"""
import json
import os
import posixpath
import re
import tempfile
from dataclasses import dataclass, field

from django.conf import settings

from marketplace import gitrepo, manifest, packaging, skillmd
from marketplace.gitrepo import GitError, Repository
from marketplace.problems import CatalogError, Problems
from marketplace.reader import Reader, catalog_root
from marketplace.models import Skill
from marketplace.snapshot import is_junk
from marketplace.sync import known_skills
from marketplace.tree import Escape, is_clean_path, join_inside, name_clashes
from marketplace.verdicts import SPEC_NAME

# Who commits a proposal: Skillport, with the marketplace's credential; the person is a co-author.
COMMITTER = {"GIT_AUTHOR_NAME": "Skillport", "GIT_AUTHOR_EMAIL": "skillport@users.noreply.github.com",
             "GIT_COMMITTER_NAME": "Skillport", "GIT_COMMITTER_EMAIL": "skillport@users.noreply.github.com"}
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# Where new plugins go when the catalogue gives no hint (no pluginRoot, no relative sources).
DEFAULT_PLUGIN_FOLDER = "plugins"
VERDICTS_THAT_MATTER = {"claude_code": "Claude Code", "agent_skills_spec": "the Agent Skills specification"}


class Unusable(Exception):
    """The marketplace cannot take proposals at all (why, in words for the person)."""


@dataclass
class Change:
    marketplace: object
    plugin: str
    skill: str
    kind: str  # "add", "update" or "remove"
    repo: Repository
    head: str
    branch: str  # the tracked branch
    tree: str = ""
    folder: str = ""  # the skill's folder in the repository
    new_plugin: bool = False
    before: object = None  # the Snapshot of the head
    existing_hash: str = ""  # the content hash of the skill the head holds at `folder`, as a sync reads it
    input_problems: list = field(default_factory=list)

    # -- 1 ---------------------------------------------------------------------------------

    @classmethod
    def build(cls, marketplace, plugin: str, skill: str, files: dict[str, bytes], deleted=(), executable=frozenset(),
              remove=False):
        """The change, with the problems of its input already found (then nothing else is built)."""
        # Skillport's own .skill packages carry the plugin's manifest in the skill's folder (FORMAT.md §5),
        # for check_updates; a package downloaded, edited and uploaded again brings it back. It is the
        # plugin's, written there by packaging, not part of the skill: the change leaves it out.
        files = {path: content for path, content in files.items() if path != packaging.PLUGIN_JSON}
        repo, head, branch = _fetch(marketplace)
        change = cls(marketplace, plugin, skill, "remove" if remove else "update", repo, head, branch)
        change.input_problems = _check_input(plugin, skill, files, deleted, remove)
        if change.input_problems:
            return change
        try:
            change.before = _read(marketplace, head)
        except CatalogError as exc:
            raise Unusable(f"The marketplace's catalogue does not load now ({exc}); its admins must fix it "
                           "before changes can be proposed.") from None
        found = next((p for p in change.before.plugins if p.name == plugin), None)
        if found is not None and (found.source is None or found.source.kind != "relative"):
            raise Unusable(f"The plugin '{plugin}' is not kept in this marketplace's repository (its source is "
                           "elsewhere), so Skillport cannot propose changes to it here. Propose them where it lives.")
        existing = next((s for s in (found.skills if found else []) if skill in (s.name, s.folder_name)), None)
        if existing is not None:
            change.folder, change.existing_hash = existing.folder, existing.content_hash
        if remove:
            if existing is None:
                change.input_problems = [f"The plugin '{plugin}' has no skill '{skill}' to remove."]
                return change
            holds_more = existing.folder == found.root or any(
                other.folder.startswith(f"{existing.folder}/") for other in found.skills if other is not existing)
            if holds_more:
                change.input_problems = [f"The skill '{skill}' is not a folder of its own (it is the plugin '{plugin}' "
                                         "itself, or holds other skills), so removing its folder would remove more; "
                                         "ask the marketplace's admins."]
                return change
            change.folder = existing.folder
        elif existing is not None:
            change.folder = existing.folder
        else:
            change.kind = "add"
            change.new_plugin = found is None
            root = _new_plugin_root(change.before, plugin, marketplace) if found is None else found.root
            change.folder = join_inside(root, f"skills/{skill}")
            if "SKILL.md" not in files:
                change.input_problems = [f"A new skill needs a SKILL.md; none was given for '{skill}'."]
                return change
        change._make_tree(found, files, deleted, executable)
        return change

    # -- 2 ---------------------------------------------------------------------------------

    def _make_tree(self, plugin, files, deleted, executable):
        listing = _listing(self.repo, self.head)
        prefix = f"{self.folder}/" if self.folder else ""  # a skill at the repository's top has no folder
        if self.kind == "remove":
            listing = {p: e for p, e in listing.items() if not p.startswith(prefix)}
        else:
            for path in deleted:
                if listing.pop(prefix + path, None) is None:
                    self.input_problems.append(f"'{path}' is not a file of the skill, so it cannot be deleted.")
            written = {prefix + path: content for path, content in files.items()}
            for path in written:
                clash = _clash(listing, path)
                if clash:
                    self.input_problems.append(f"'{path.removeprefix(prefix)}' {clash}.")
            for path, content in written.items():
                # Executable when the upload says so or the repository has it so (a browser's folder
                # upload, or Claude's text, cannot say).
                was = listing[path][0] if path in listing and listing[path][0] in ("100644", "100755") else "100644"
                mode = "100755" if path.removeprefix(prefix) in executable else was
                listing[path] = (mode, _blob(self.repo, content))
            # The sync would not read such names, and the skill would lose them.
            self.input_problems += [f"{clash}." for clash in name_clashes(
                p.removeprefix(prefix) for p in listing if p.startswith(prefix))]
        if self.input_problems:
            return
        try:
            manifest_edits = self._plugin_manifests(plugin, listing)
        except _NotPlainJSON as exc:
            self.input_problems.append(f"{exc} is not a plain JSON file (a symlink, comments, a trailing comma, NaN?), so "
                                       "Skillport cannot edit it for the change; ask the marketplace's admins.")
            return
        for path, content in manifest_edits.items():
            listing[path] = (listing.get(path, ("100644",))[0], _blob(self.repo, content))
        self.tree = _write_tree(self.repo, listing)
        if self.tree == _run(self.repo, "rev-parse", f"{self.head}^{{tree}}"):
            self.input_problems.append("The change is empty: these files are already the skill's content.")

    def _plugin_manifests(self, plugin, listing) -> dict[str, bytes]:
        """plugin.json and marketplace.json as the change leaves them: a new plugin's made, a semver
        version bumped (patch) where the marketplace keeps one, as its maintainers would. Each is read
        (and must be plain JSON) only when it changes."""
        catalog_path = self.marketplace.catalog_path
        if self.new_plugin:
            return self._new_plugin(catalog_path, listing)
        edits = {}
        manifest_path = join_inside(plugin.root, ".claude-plugin/plugin.json")
        if plugin.manifest and SEMVER.match(str(plugin.manifest.get("version", ""))) and manifest_path in listing:
            manifest_text = _json_text(self.repo, listing, manifest_path)
            raw = json.loads(manifest_text)
            raw["version"] = _bump(str(raw.get("version", "")))
            edits[manifest_path] = _dump(raw, manifest_text)
        bump = SEMVER.match(str(plugin.entry.get("version", "")))
        listed = self._listing_for(plugin) if self.kind == "add" else None
        if bump or listed:
            catalog_text = _json_text(self.repo, listing, catalog_path)
            catalog = json.loads(catalog_text)
            entries = catalog.get("plugins") if isinstance(catalog.get("plugins"), list) else []
            entry = entries[plugin.index] if plugin.index < len(entries) else None  # the reader's index: the raw list's
            if not isinstance(entry, dict) or entry.get("name") != self.plugin:
                raise _NotPlainJSON(catalog_path)  # the reader and json disagree on its entries
            if bump:
                entry["version"] = _bump(str(entry["version"]))
            if listed:
                entry["skills"] = listed
            edits[catalog_path] = _dump(catalog, catalog_text)
        return edits

    def _new_plugin(self, catalog_path, listing) -> dict[str, bytes]:
        catalog_text = _json_text(self.repo, listing, catalog_path)
        catalog = json.loads(catalog_text)
        root = posixpath.dirname(posixpath.dirname(self.folder))
        base = catalog_root(catalog_path)
        source = "./" + (posixpath.relpath(root, base) if base else root)
        versioned = any(SEMVER.match(str(e.get("version", ""))) for e in _entries(catalog)) or any(
            SEMVER.match(str((p.manifest or {}).get("version", ""))) for p in self.before.plugins)
        version = {"version": "0.1.0"} if versioned else {}
        description = f"{self.skill} and related skills."
        catalog.setdefault("plugins", []).append(
            {"name": self.plugin, "source": source, "description": description, **version})
        return {f"{root}/.claude-plugin/plugin.json": _dump({"name": self.plugin, "description": description,
                                                             **version}, catalog_text),
                catalog_path: _dump(catalog, catalog_text)}

    def _listing_for(self, plugin) -> list | None:
        """A plugin at the marketplace's root whose entry lists its skills one by one (the skills-only pattern,
        FORMAT.md §1; `strict` or not) shows only those: its list with the new one, else None. Listing `./skills/`
        or `./` keeps the scan (marketplace.discovery)."""
        listed = manifest.component_paths(plugin.entry.get("skills"))
        at_root = plugin.root == catalog_root(self.marketplace.catalog_path)
        if not at_root or not listed or any(p.strip("./") in ("skills", "") for p in listed):
            return None
        return [*listed, "./" + (posixpath.relpath(self.folder, plugin.root) if plugin.root else self.folder)]

    # -- 3 ---------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """What a sync of the change would report about this plugin and skill that it does not now."""
        if self.input_problems:
            return list(self.input_problems)
        scratch = self.commit("Skillport: checking a proposal", {})
        try:
            after = _read(self.marketplace, scratch)
        except CatalogError as exc:
            return [f"The catalogue would not load: {exc}"]
        seen = {(p.code, p.message, p.location) for p in self.before.problems}
        plugin = next((p for p in after.plugins if p.name == self.plugin), None)
        if plugin is None:
            new = [p for p in after.catalog.problems if (p.code, p.message, p.location) not in seen]
            return [f"The plugin '{self.plugin}' would not be in the catalogue"
                    + (f": {_describe(new[0])}" if new else ".")]
        found = [_describe(p) for p in [*after.catalog.problems, *plugin.problems]
                 if p.severity in ("error", "warning") and (p.code, p.message, p.location) not in seen]
        if not plugin.loads:
            found.append(f"Claude Code would refuse to install the plugin '{self.plugin}': {plugin.refusal}.")
        if self.kind == "remove":
            return found
        skill = next((s for s in plugin.skills if s.folder == self.folder), None)
        if skill is None:
            # The reader says why it is no skill (a skills/SKILL.md beside it, say) and where it would have to be.
            stray = next((p.message for p in after.catalog.problems if p.code == "skill-unreachable"
                          and p.location == join_inside(self.folder, "SKILL.md")), "")
            return found + [f"Claude Code would not find the skill in '{self.folder}': " + (
                f"{stray}." if stray else "the plugin lists its skill folders itself (its `skills` field); add this "
                "folder there, or propose a change to one of its skills.")]
        found += [_describe(p) for p in skill.problems
                  if p.severity in ("error", "warning") and (p.code, p.message, p.location) not in seen]
        # The skill's verdicts as last synced (the reader did not read it again if it had not changed).
        previous = Skill.objects.filter(marketplace=self.marketplace, plugin__name=self.plugin, path=self.folder,
                                        removed_at=None).values_list("verdict_reasons", flat=True).first() or {}
        for key, label in VERDICTS_THAT_MATTER.items():
            verdict = skill.verdicts.get(key, {"ok": True})
            before = set(previous.get(key, []))
            if not verdict["ok"]:
                found += [f"SKILL.md: not valid under {label}: {reason}" for reason in verdict["reasons"]
                          if reason not in before]
        return list(dict.fromkeys(found))

    def skill_files(self) -> dict[str, bytes]:
        """The skill's folder as the change leaves it (for the security scan)."""
        listing = _listing(self.repo, self.tree)
        prefix = f"{self.folder}/" if self.folder else ""
        with self.repo.blobs() as blobs:
            return {path.removeprefix(prefix): blobs.read(sha) for path, (_mode, sha) in listing.items()
                    if path.startswith(prefix)}

    def commit(self, message: str, extra_env: dict) -> str:
        out = gitrepo.run(["commit-tree", self.tree, "-p", self.head, "-F", "-"], git_dir=self.repo.git_dir,
                          env=gitrepo.local_env(extra={**COMMITTER, **extra_env}), input=message.encode())
        return out.decode().strip()


def unreachable(marketplace) -> str:
    """Why no change can be proposed to `marketplace`, whoever asks ("" when one can): known without
    fetching anything, so pages say it before anyone writes a change only to lose it."""
    if gitrepo.plain_folder(marketplace.git_url) is not None:
        return ("This marketplace is read from a folder, not a git repository, so there is nowhere to "
                "propose a change; ask its admins to commit it.")
    return ""


def _fetch(marketplace):
    """The cached repository, the tracked branch's head, and the branch's name."""
    url = marketplace.git_url
    if reason := unreachable(marketplace):
        raise Unusable(reason)
    try:
        repo, head = Repository.fetch(url, ref=marketplace.ref, token=marketplace.access_token or None)
    except GitError as exc:
        raise Unusable(f"Skillport could not read the marketplace's repository: {exc}") from None
    branch = marketplace.ref
    if not branch:
        branch = _run(repo, "symbolic-ref", "--short", "HEAD")
    elif not repo.has_commit(f"refs/heads/{branch}"):
        raise Unusable(f"This marketplace follows '{branch}', which is not a branch (a tag or a commit), so a "
                       "change cannot be proposed to it.")
    return repo, head, branch


def _read(marketplace, commit):
    """The snapshot of `commit`, read exactly as a sync reads it, but for git sources elsewhere (not
    fetched) and skills whose content the last sync read (not read again: the proposed one is new)."""
    reader = Reader(marketplace.git_url, ref=marketplace.ref, sha=commit, catalog_path=marketplace.catalog_path,
                    token=marketplace.access_token or None, known_skills=known_skills(marketplace),
                    fetch_sources=False)
    try:
        return reader.read()
    finally:
        reader.close()


def _check_input(plugin, skill, files, deleted, remove) -> list[str]:
    """The problems of the request itself, before anything is built: names, paths and sizes."""
    found = Problems()
    manifest.check_plugin_name(plugin, "plugin", found)
    problems = [f"Plugin name: {p.message}." for p in found if p.severity == "error"]
    if not isinstance(skill, str) or not SPEC_NAME.match(skill) or len(skill) > 64:
        problems.append(f"Skill name '{skill}': use 1 to 64 lowercase letters, digits and single hyphens "
                        "(e.g. 'pdf-tables'), as the Agent Skills specification asks.")
    if remove:
        return problems
    if not files and not deleted:
        problems.append("The proposal has no files.")
    for path in [*files, *deleted]:
        if is_junk(path):
            problems.append(f"'{path}' is build output or litter (__pycache__, node_modules, .pyc, .DS_Store, .git); "
                            "leave it out.")
        elif not path or path.startswith("/") or "\\" in path or not is_clean_path(path) or path.endswith("/"):
            problems.append(f"'{path}' is not a relative path inside the skill's folder (no '..', no leading '/', "
                            "no backslashes, control characters, folders git reads as its own such as .GIT, or names "
                            "Windows cannot hold such as aux.md or a:b).")
    for path in deleted:
        if path in files:
            problems.append(f"'{path}' is both written and deleted; choose one.")
    if "SKILL.md" in deleted:
        problems.append("SKILL.md cannot be deleted: a skill is its SKILL.md. Propose removing the skill instead.")
    total = 0
    for path, content in files.items():
        total += len(content)
        if len(content) > settings.SKILLPORT_MAX_FILE_BYTES:
            problems.append(f"'{path}' is {len(content)} bytes, over the {settings.SKILLPORT_MAX_FILE_BYTES}-byte "
                            "limit for one file.")
    if total > settings.SKILLPORT_MAX_SKILL_BYTES:
        problems.append(f"The files come to {total} bytes, over the {settings.SKILLPORT_MAX_SKILL_BYTES}-byte "
                        "limit for a skill.")
    if len(files) > settings.SKILLPORT_MAX_SKILL_FILES:
        problems.append(f"{len(files)} files is more than a skill may hold ({settings.SKILLPORT_MAX_SKILL_FILES}).")
    if "SKILL.md" in files:
        name = skillmd.parse(files["SKILL.md"]).frontmatter.get("name")
        if name is not None and name != skill:
            problems.append(f"SKILL.md: its name is '{name}' but the skill is '{skill}'; they must match "
                            "(Claude invokes the skill by that name, and its folder is named for it).")
    return problems


def _clash(listing, path) -> str:
    """Why `path` cannot be a file in `listing` (a folder there, or inside a file or a link), or ""."""
    if any(other.startswith(f"{path}/") for other in listing):
        return "is a folder in the skill, so it cannot be a file"
    parts = path.split("/")
    for depth in range(1, len(parts)):
        above = "/".join(parts[:depth])
        if above in listing:
            return f"would go inside '{above}', which is a file or a link"
    if path in listing and listing[path][0] not in ("100644", "100755"):
        return "is a symbolic link or a submodule in the repository; Skillport does not write over those"
    return ""


def _new_plugin_root(snapshot, plugin, marketplace) -> str:
    """Where a new plugin's folder goes: under metadata.pluginRoot, else beside the other plugins
    (the folder most relative sources sit in), else in plugins/."""
    base = catalog_root(marketplace.catalog_path)
    plugin_root = (snapshot.catalog.metadata or {}).get("pluginRoot")
    if isinstance(plugin_root, str) and plugin_root.strip("./"):
        try:
            return join_inside(join_inside(base, plugin_root), plugin)
        except Escape:
            pass
    parents = [posixpath.dirname(p.root) for p in snapshot.plugins
               if p.source is not None and p.source.kind == "relative" and p.root and p.root != base]
    parent = max(set(parents), key=parents.count) if parents else join_inside(base, DEFAULT_PLUGIN_FOLDER)
    return join_inside(parent, plugin)


def _entries(catalog) -> list[dict]:
    return [e for e in catalog.get("plugins", []) if isinstance(e, dict)] if isinstance(catalog, dict) else []


def _bump(version: str) -> str:
    major, minor, patch = SEMVER.match(version).groups()
    return f"{major}.{minor}.{int(patch) + 1}"


class _NotPlainJSON(Exception):
    """A manifest the reader accepts but json cannot round-trip; the message names it."""


def _json_text(repo, listing, path) -> str:
    """The text of a JSON manifest to edit, checked to be a plain JSON file holding an object."""
    if path not in listing or listing[path][0] not in ("100644", "100755"):
        raise _NotPlainJSON(path)  # behind a symlink, say
    text = _blob_text(repo, listing[path][1]).removeprefix("\ufeff")
    try:
        data = json.loads(text)
        # Python's json reads NaN, Infinity and 1e999 (as inf), and would write them back as what is not JSON.
        json.dumps(data, allow_nan=False)
        if isinstance(data, dict):
            return text
    except ValueError:
        pass
    raise _NotPlainJSON(path)


def _dump(value, like: str) -> bytes:
    """`value` as JSON indented as the file `like` is (two spaces when it says nothing), so the pull
    request's diff shows the change, not a reformatting."""
    indent = re.search(r"\n([ \t]+)\S", like)
    return (json.dumps(value, indent=indent.group(1) if indent else 2, ensure_ascii=False) + "\n").encode()


def _describe(problem) -> str:
    where = f"{problem.location}: " if problem.location else ""
    return f"{where}{problem.message}".rstrip(".") + "."


def _listing(repo, treeish) -> dict[str, tuple[str, str]]:
    """path -> (mode, sha) of every entry of a commit or tree."""
    found = {}
    for record in gitrepo.tree_records(repo.git_dir, treeish):
        meta, _, raw = record.partition(b"\t")
        mode, _kind, sha = meta.decode().split()
        found[raw.decode("utf-8", "surrogateescape")] = (mode, sha)
    return found


def _blob(repo, content: bytes) -> str:
    return gitrepo.run(["hash-object", "-w", "--no-filters", "--stdin"], git_dir=repo.git_dir,
                       input=content).decode().strip()


def _blob_text(repo, sha) -> str:
    return gitrepo.run(["cat-file", "blob", sha], git_dir=repo.git_dir).decode("utf-8", "replace")


def _write_tree(repo, listing) -> str:
    entries = [f"{mode} {sha}\t".encode() + path.encode("utf-8", "surrogateescape")
               for path, (mode, sha) in sorted(listing.items())]
    with tempfile.TemporaryDirectory() as scratch:
        env = gitrepo.local_env(extra={"GIT_INDEX_FILE": os.path.join(scratch, "index")})
        gitrepo.run(["update-index", "--add", "-z", "--index-info"], git_dir=repo.git_dir, env=env,
                    input=b"\0".join(entries) + b"\0")
        return gitrepo.run(["write-tree"], git_dir=repo.git_dir, env=env).decode().strip()


def _run(repo, *args) -> str:
    return gitrepo.run(list(args), git_dir=repo.git_dir).decode().strip()

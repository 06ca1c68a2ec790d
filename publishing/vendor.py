"""Build the vendored marketplace a target publishes: `.claude-plugin/marketplace.json` and
`plugins/<name>/` holding each plugin's files as Skillport serves them, every source relative.
It is built in memory (`Build.files`), which git, the ZIP and `export_marketplace` take as it is:
written to a folder and read back, a publish of 2,000 skills spent seconds in the file system.

Vendoring lets the copy carry plugins from any git host, other owners, `git-subdir` and `url`
sources, which Claude.ai's GitHub sync cannot read. What goes into a plugin's folder:

- every file of the plugin at its approved commit (`Plugin.approved_commit`), found where its entry as
  approved (`Plugin.approved_entry`, which its catalogue entry is made from) puts it, symlinks inside the
  repository written as the files they point to, junk (`node_modules`, `__pycache__`...) left out;
- except skill folders (any folder holding a SKILL.md): those are written from the database, and
  only for the skills selection.py chose, at the revision Skillport serves. So a skill awaiting
  approval, prohibited, or not for this audience never rides along with its plugin, even under a
  symlink or in a folder Skillport could not read as a skill.

Each plugin's entry lists under `metadata.skillport.skills` the provenance digest of every skill it
holds, with the skill's folder in the plugin (docs/provenance.md); `metadata` is a free-form object
Claude Code ignores, and the list is left out of the plugin's digest (it follows from the files).

The same catalogue state always writes the same bytes (sorted keys of our own, fixed JSON layout,
no dates), so a publish with nothing new changes nothing. Versions: see `published_version`.
"""
import hashlib
import json
import posixpath
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

from marketplace import dependencies, pluginfiles, provenance
from marketplace.gitrepo import GitError, Repository
from marketplace.models import Plugin, SkillFile
from marketplace.problems import Problems
from marketplace.snapshot import is_junk
from marketplace.tree import Escape, Tree, folders_of, is_clean_path

from .selection import choose, together

CATALOG = ".claude-plugin/marketplace.json"
PLUGIN_JSON = ".claude-plugin/plugin.json"
# What an upstream version may look like to be kept in ours; anything else is read as none.
PLAIN_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$")
DIGEST_LENGTH = 12
# Plugins whose skills' files and digests are read in one query each: fewer queries than one a plugin,
# and only this many plugins' file contents in memory at once.
BATCH = 100


@dataclass
class PublishedPlugin:
    name: str
    marketplace: str
    version: str
    digest: str
    skills: dict[str, str] = field(default_factory=dict)  # skill identifier -> content hash
    files: int = 0
    size: int = 0


@dataclass
class Build:
    catalog: dict
    plugins: dict[str, PublishedPlugin]
    problems: Problems
    skills: list = field(default_factory=list)  # the Skill rows published
    files: dict[str, tuple[bool, bytes]] = field(default_factory=dict)  # path: (executable, content)

    @property
    def size(self) -> int:
        return sum(p.size for p in self.plugins.values())

    def summary(self) -> dict:
        """{name: {version, digest, marketplace, skills}}: what a target records as published."""
        return {name: {k: v for k, v in asdict(p).items() if k != "name"} for name, p in sorted(self.plugins.items())}

    def write(self, out: Path):
        """Write the files into the empty folder `out`."""
        for path, (executable, content) in sorted(self.files.items()):
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(0o755 if executable else 0o644)


def published_version(upstream: str, digest: str) -> str:
    """The version a published plugin carries: its own, plus a digest of what was published.

    `1.4.0` becomes `1.4.0+skillport.3f2a9c1b7d4e` (SemVer build metadata). It changes whenever the
    published content changes (a file, an approval, a skill left out for this audience) even when
    the upstream version does not, so Claude Code and Claude.ai's sync see an update; and it stays
    the same when nothing changed, so they do not. A plugin without a version starts from 0.0.0.
    """
    upstream = upstream if PLAIN_VERSION.match(upstream or "") else "0.0.0"
    joiner = "." if "+" in upstream else "+"
    return f"{upstream}{joiner}skillport.{digest[:DIGEST_LENGTH]}"


def build(*, marketplaces, audience, name, owner, progress=None) -> Build:
    """The marketplace for `audience` from `marketplaces`."""
    progress = progress or (lambda phase, done, total: None)
    chosen, problems = choose(marketplaces, audience)
    copied = together(marketplaces)
    folders = _plugin_folders(marketplaces)
    plugins, entries, skills, files = {}, [], [], {}
    with _Trees() as trees:
        for done, item in enumerate(chosen):
            progress("plugins", done, len(chosen))
            if done % BATCH == 0:
                batch = [skill for later in chosen[done:done + BATCH] for skill in later.skills]
                stored, digests = _stored_files(batch), provenance.digests([skill.pk for skill in batch])
            written = _vendor(item, problems, trees, stored, digests, copied, folders)
            if written is None:
                continue
            published, entry, held = written
            files.update((f"plugins/{published.name}/{path}", file) for path, file in held.items())
            plugins[published.name] = published
            entries.append(entry)
            skills += [s for s in item.skills if s.identifier in published.skills]
    progress("plugins", len(chosen), len(chosen))
    catalog = {
        "name": name,
        "owner": owner,
        "metadata": {"description": "Published by Skillport: only what the organisation approved for this audience."},
        "plugins": sorted(entries, key=lambda e: e["name"]),
    }
    allowed = _other_marketplaces([item.plugin for item in chosen if item.plugin.name in plugins], copied)
    if allowed:
        catalog["allowCrossMarketplaceDependenciesOn"] = allowed
    files[CATALOG] = (False, _json(catalog))
    return Build(catalog, plugins, problems, skills, files)


def _other_marketplaces(published, copied) -> list[str]:
    """The marketplaces outside the copy that published plugins depend on where their own catalogue let them
    (allowCrossMarketplaceDependenciesOn): the copy lets them too, and no others."""
    allowed = set()
    for plugin in published:
        for written in dependencies.declared(plugin.approved_entry, plugin.approved_manifest):
            other = written.partition("@")[2]
            if other not in ("", plugin.marketplace.name, *copied) and other in plugin.marketplace.cross_marketplace:
                allowed.add(other)
    return sorted(allowed)


class _Trees:
    """The trees one build reads, each listed once however many plugins live in it (plugins of one
    marketplace mostly share its repository and commit), with one `git cat-file` (`blobs`) per repository."""

    def __init__(self):
        self._trees, self._blobs = {}, {}

    def get(self, url, commit, token) -> tuple[Tree, Repository]:
        # By address, before asking git: finding the repository runs a git command of its own.
        if (url, commit) not in self._trees:
            repo = Repository.holding(url, commit, token=token)
            if repo.git_dir not in self._blobs:
                self._blobs[repo.git_dir] = repo.blobs()
            self._trees[url, commit] = Tree(repo.list_tree(commit), self._blobs[repo.git_dir].read), repo
        return self._trees[url, commit]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for blobs in self._blobs.values():
            blobs.close()


def _plugin_folders(marketplaces) -> dict:
    """{marketplace id: [(plugin id, its folder in the repository)]} of every live plugin in a marketplace's own
    repository, published here or not, as approved (or, before that, as synced)."""
    folders = {}
    for pk, market, approved, synced in (Plugin.objects.filter(marketplace__in=marketplaces, removed_at=None,
                                                               source_kind="relative")
                                         .values_list("pk", "marketplace_id", "approved_root", "root")):
        if (folder := approved if approved is not None else synced) is not None:
            folders.setdefault(market, []).append((pk, folder))
    return folders


def _vendor(chosen, problems, trees, stored, digests, copied, folders) -> tuple[PublishedPlugin, dict, dict] | None:
    """One plugin: what is published of it, its catalogue entry and its files ({path: (executable, content)});
    `stored` and `digests` hold its skills' files and provenance digests, `copied` the names of the marketplaces
    the target copies (selection.together), `folders` the plugins' folders (_plugin_folders)."""
    plugin = chosen.plugin
    where = f"{plugin.marketplace.slug}/{plugin.name}"
    try:
        url, token, root = pluginfiles.location(plugin, plugin.approved_entry, plugin.approved_root)
        # A plugin at the top of the repository holds the others' folders: theirs to publish (or not, hidden, kept
        # from this audience or prohibited), not its own.
        others = {folder for pk, folder in folders.get(plugin.marketplace_id, ()) if pk != plugin.pk
                  and folder != root and _inside(root, folder)} if plugin.source_kind == "relative" else set()
        tree, repo = trees.get(url, plugin.approved_commit, token)
        files = _repository_files(tree, repo.sizes, root, where, problems,
                                  published={skill.path for skill in chosen.skills}, others=others)
    except (GitError, Escape, ValueError) as exc:
        problems.error("plugin-not-copied", f"{plugin.name} could not be copied: {exc}", where,
                       detail=getattr(exc, "detail", ""))
        return None
    skills, listed = {}, []
    for skill in chosen.skills:
        folder_in_plugin = _inside(root, skill.path)
        if folder_in_plugin is None:
            problems.warning("skill-outside-plugin",
                             f"{skill.name} lives outside the plugin's folder, so the copy cannot hold it", where)
            continue
        files.update(_skill_files(skill, stored.get(skill.pk, []), folder_in_plugin, problems))
        skills[skill.identifier] = skill.content_hash
        listed.append({"skill": skill.identifier, "path": folder_in_plugin or ".", "digest": digests[skill.pk]})

    manifest_json = _plugin_json(files, where, problems)
    entry = {key: value for key, value in plugin.approved_entry.items() if key not in ("source", "version")}
    # Published under the target's name, a dependency on "name@<a marketplace the target copies>" would name the
    # original.
    for declared in (entry, manifest_json):
        for key in ("dependencies", "optionalDependencies"):
            if declared is not None and key in declared:
                declared[key] = dependencies.as_own(declared[key], {plugin.marketplace.name, *copied})
    entry.update({key: value for key, value in (
        ("displayName", plugin.display_name_override), ("category", plugin.category_override),
        ("tags", plugin.tags_override)) if value})
    digest = _digest(files, manifest_json, entry)
    upstream = str((manifest_json or {}).get("version") or plugin.approved_entry.get("version") or "")
    version = published_version(upstream, digest)
    if manifest_json is not None:
        files[PLUGIN_JSON] = (False, _json({**manifest_json, "version": version}))
    clash = _file_and_folder(files)
    if clash:
        problems.error("plugin-not-copied", f"{plugin.name} could not be written: {clash} would be both a file "
                       "and a folder", where)
        return None
    upstream = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
    entry = {"name": plugin.name, **entry, "source": f"./plugins/{plugin.name}", "version": version,
             "metadata": {**upstream, "skillport": {"skills": sorted(listed, key=lambda item: item["path"])}}}
    published = PublishedPlugin(plugin.name, plugin.marketplace.slug, version, digest, skills,
                                files=len(files), size=sum(len(content) for _x, content in files.values()))
    return published, entry, files


def _repository_files(tree, sizes, root, where, problems, published=frozenset(), others=frozenset()) -> dict:
    """{path in the plugin: (executable, content)} for the plugin's files outside skill folders; `published` are the
    folders of the skills the copy holds, `others` those of other plugins inside this one's. `sizes(shas)` gives
    blobs' sizes unread (Repository.sizes). Raises ValueError past what the scan reads of a plugin."""
    left_out = []
    walked = list(tree.walk(root, lambda kind, rel: left_out.append(f"{rel} ({kind})")))
    real = {rel: tree.resolve(f"{root}/{rel}" if root else rel) for rel, _entry in walked}

    def skill_folders(paths):
        return {posixpath.dirname(path) for path in paths if posixpath.basename(path).lower() == "skill.md"}

    # Skills are written from the database, if at all; nor is what a link leads to in the folder of one the copy leaves
    # out (kept from this audience, or prohibited) copied from the repository under another name.
    skills_here, left_out_skills = skill_folders(real), skill_folders(real.values()) - set(published)
    copied = []
    for rel, entry in walked:
        if rel != PLUGIN_JSON and _under_any(rel, skills_here):
            continue
        if _under_any(real[rel], left_out_skills):
            left_out.append(f"{rel} (leads into a skill not published here)")
            continue
        if _under_any(real[rel], others) or _under_any(f"{root}/{rel}" if root else rel, others):
            continue  # another plugin's: published as that plugin, if at all
        if is_junk(rel):
            continue
        if _inside(root, real[rel]) is None:
            # A link to another plugin's files (one hidden, say) would carry them out under this one's name.
            left_out.append(f"{rel} (links outside the plugin)")
            continue
        copied.append((rel, entry))
    # Sized as the scan sizes them, before reading any: an approved plugin holding a file of gigabytes, or links to
    # one, would otherwise be read whole into a publish's memory. Past that size the scan judged none of it either.
    if size := pluginfiles.past_the_scan(sizes, [entry.sha for _rel, entry in copied]):
        raise ValueError(f"its files besides its skills hold {size:,} bytes, more than a copy carries and the scan "
                         f"reads ({settings.SKILLPORT_MAX_SKILL_BYTES:,}, SKILLPORT_MAX_SKILL_BYTES)")
    files = {rel: (entry.mode == "100755", tree.read_blob(entry.sha)) for rel, entry in copied}
    if left_out:
        problems.warning("files-left-out", "Not copied (links leaving the repository, submodules, unsafe names, or "
                         "names macOS and Windows would take for one another): "
                         + ", ".join(sorted(left_out)[:20]), where)
    return files


def _stored_files(skills) -> dict:
    """{skill id: [(path, mode, why omitted, content)]} for `skills`, in one query."""
    found = {}
    for skill_id, *row in SkillFile.objects.filter(skill__any=[s.pk for s in skills]).values_list(
            "skill_id", "path", "mode", "omitted", "blob__content"):
        found.setdefault(skill_id, []).append(row)
    return found


def _skill_files(skill, rows, folder, problems) -> dict:
    files, omitted, unsafe = {}, [], []
    for path, mode, why, content in rows:
        target = f"{folder}/{path}" if folder else path
        if why or content is None:
            omitted.append(path)
        elif not is_clean_path(target):
            unsafe.append(path)  # no sync stores one (a `.git` folder, say): a row that does is said, not dropped
        elif not is_junk(target):
            files[target] = (mode == "100755", bytes(content))
    if omitted:
        problems.warning("files-left-out", f"{skill.identifier}: files Skillport did not store are not published: "
                         + ", ".join(sorted(omitted)[:20]), skill.identifier)
    if unsafe:
        problems.warning("files-left-out", f"{skill.identifier}: files whose names are not safe to publish are left "
                         "out: " + ", ".join(sorted(map(repr, unsafe))[:20]), skill.identifier)
    return files


def _plugin_json(files, where, problems) -> dict | None:
    if PLUGIN_JSON not in files:
        return None
    try:
        found = json.loads(files[PLUGIN_JSON][1])
        # Python's json reads NaN, Infinity and 1e999 (as inf) and would write them back as what is not JSON:
        # Claude Code would refuse the copy where it reads the original (1e999 as Infinity).
        json.dumps(found, allow_nan=False)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        problems.warning("plugin-json-unreadable", "plugin.json could not be read as plain JSON; its version is left "
                                                   "as it is", where)
        return None
    return found


def _digest(files, manifest_json, entry) -> str:
    """A hash of everything published for the plugin except the version we derive from it."""
    material = [
        [path, executable, hashlib.sha256(content).hexdigest()]
        for path, (executable, content) in sorted(files.items()) if path != PLUGIN_JSON
    ]
    unversioned = {k: v for k, v in (manifest_json or {}).items() if k != "version"}
    text = json.dumps([material, unversioned, entry], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _inside(root: str, path: str) -> str | None:
    """`path` relative to `root` (both repository paths), or None when it is not below it."""
    if not root:
        return path
    if path == root:
        return ""
    return path[len(root) + 1:] if path.startswith(f"{root}/") else None


def _file_and_folder(paths) -> str | None:
    """A path among `paths` that another one lies below (a skill folder where the repository has a file of
    that name, say), which neither a folder nor a git tree can hold."""
    folders = folders_of(paths)
    return next((path for path in sorted(paths) if path in folders), None)


def _under_any(path: str, folders: set) -> bool:
    return any(folder == "" or path.startswith(f"{folder}/") for folder in folders)


def _json(value) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()

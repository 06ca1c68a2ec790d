"""A plugin's files besides its skills, read back from its repository: where they are (`location`,
which publishing copies from too) and what the security scan reads of them (`for_scan`).

A sync keeps only their listing (`Plugin.own_content`: paths, modes, blob ids); the bytes stay in the
cached repository, read here by blob id.
"""
import json
from types import SimpleNamespace

from django.conf import settings

from . import addresses, manifest
from .gitrepo import Repository
from .problems import Problems
from .reader import catalog_root
from .tree import join_inside

# The scanner judges skill folders, so the plugin's files go in one, under a SKILL.md written for it.
SKILL_MD = ("---\nname: plugin-content\ndescription: What a plugin installs besides its skills, for Skillport's "
            "security scan.\nlicense: none\n---\nThe plugin's hooks, commands, agents, servers and the files they run.\n")
# The components its marketplace.json entry and plugin.json declare (a hook or server declared there has no file).
DECLARED_FILE = "declared-components.json"


class Unscannable(Exception):
    """Why a plugin's content cannot be scanned, in words for the admin."""


def location(plugin, entry: dict, root: str | None = None) -> tuple[str, str | None, str]:
    """(repository URL, token for it, plugin folder in it) of the plugin's source as `entry` (its marketplace.json
    entry as synced, or as approved) gives it. `root`, where given, is the folder a sync found for a source in the
    marketplace's repository (`Plugin.approved_root`, say): not what the catalogue's metadata makes of the entry
    now. Raises ValueError when that source can no longer be read."""
    marketplace = plugin.marketplace
    source = manifest.parse_source(entry.get("source"), SimpleNamespace(metadata=marketplace.metadata or {}),
                                   "", Problems(), settings.SKILLPORT_GITHUB_URL)
    if source is None:
        raise ValueError("its source can no longer be read")
    if source.kind == "relative":
        return marketplace.git_url, marketplace.access_token or None, root if root is not None else join_inside(
            catalog_root(marketplace.catalog_path), source.path)
    # The marketplace's token goes only as far as the admin let it, as when the sync fetched it.
    ours = addresses.within_reach(source.url, marketplace.git_url, marketplace.token_reach)
    return source.url, (marketplace.access_token or None) if ours else None, source.path


def past_the_scan(sizes, shas) -> int:
    """The bytes of the blobs `shas` (one per path: a blob two paths hold counts twice, as both are read or written),
    sized unread with `sizes` (Repository.sizes), when they are more than the scan reads of a plugin; else 0.

    By blob, not by path: a path may be a link (a few bytes) to a file anywhere in the repository, twenty of them to
    one of 50 MB read a gigabyte. The limit is as much as a skill may hold: a plugin at the top of a large
    repository holds all of it."""
    found = sizes(set(shas))
    size = sum(found.get(sha, 0) for sha in shas)
    return size if size > settings.SKILLPORT_MAX_SKILL_BYTES else 0


def for_scan(plugin, content: dict, commit: str, entry: dict) -> tuple[dict[str, bytes], bool]:
    """The files a scanner reads of `content` (the plugin's `own_content` or `approved_own_content`) at
    `commit` of the source `entry` gives, and whether their SKILL.md is the one written here (its findings
    are the scan's, not the plugin's). Raises Unscannable, ValueError or GitError."""
    if not content:
        raise Unscannable("What was approved was not recorded (it was approved before Skillport kept it).")
    if content.get("files_total"):
        raise Unscannable(f"It holds {content['files_total']:,} files, more than the scan reads.")
    url, token, _root = location(plugin, entry)
    repo = Repository.holding(url, commit, token=token)
    wanted = [(path, sha) for path, _mode, sha in content.get("files", [])]
    if size := past_the_scan(repo.sizes, [sha for _path, sha in wanted]):
        raise Unscannable(f"Its files hold {size:,} bytes, more than the scan reads "
                          f"({settings.SKILLPORT_MAX_SKILL_BYTES:,}, SKILLPORT_MAX_SKILL_BYTES).")
    with repo.blobs() as blobs:
        files = {path: blobs.read(sha) for path, sha in wanted}
    declared = {part: content[part] for part in ("entry", "manifest") if content.get(part)}
    if declared:
        files[DECLARED_FILE] = json.dumps(declared, indent=2, sort_keys=True).encode()
    generated = "SKILL.md" not in files
    if generated:
        files["SKILL.md"] = SKILL_MD.encode()
    return files, generated

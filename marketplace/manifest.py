"""marketplace.json and plugin.json: what they say, and every way they can be wrong.

One bad plugin entry never sinks the catalogue; only a file that cannot be read as a Claude
Code catalogue at all (a CatalogError) stops a sync, and then the last good catalogue stays.
"""
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .gitrepo import SHA_RE
from .problems import CatalogError, Problems
from .skillmd import decode
from .spoofing import spoofing_problem
from .tree import Escape, join_inside

CATALOG_KEYS = {
    "$schema", "name", "owner", "plugins", "description", "version", "metadata", "renames",
    "forceRemoveDeletedPlugins", "allowCrossMarketplaceDependenciesOn",
}
METADATA_KEYS = {"description", "version", "pluginRoot"}
COMPONENT_KEYS = {"commands", "agents", "skills", "hooks", "mcpServers", "lspServers", "outputStyles"}
DISPLAY_KEYS = {
    "displayName", "description", "version", "author", "homepage", "repository", "license",
    "keywords", "category", "tags",
}
ENTRY_KEYS = {"name", "source", "strict", "dependencies", "$schema"} | DISPLAY_KEYS | COMPONENT_KEYS
MANIFEST_KEYS = {"name", "metadata", "dependencies", "$schema"} | DISPLAY_KEYS | COMPONENT_KEYS

MARKETPLACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RESERVED_MARKETPLACE_NAMES = {
    "claude-plugins-official", "claude-code-marketplace", "anthropic-marketplace", "agent-skills",
    "life-sciences", "knowledge-work-plugins",
}
RESERVED_ANY_CASE = {"inline", "builtin", "skills-dir", "synced", "npm", "pip", "github", "gh"}
# Spaces, @, :, path separators and control characters (hidden characters: spoofing.py).
BAD_PLUGIN_NAME_CHARS = re.compile(r"[\s@:/\\\x00-\x1f\x7f]")
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
IMPERSONATING = re.compile(r"^(claude|anthropic)(-.*)?$|^claude-code$", re.IGNORECASE)
UNSUPPORTED_SOURCES = {"npm", "archive", "command", "pip"}


@dataclass
class Source:
    kind: str  # relative, github, url, git-subdir, or an unsupported kind
    raw: object
    path: str = ""  # relative: path from the marketplace root; fetched: subfolder of that repo
    url: str = ""
    ref: str = ""
    sha: str = ""

    @property
    def fetched(self):
        return self.kind in ("github", "url", "git-subdir")


@dataclass
class Catalog:
    name: str
    description: str
    version: str
    owner: dict
    metadata: dict
    renames: dict
    entries: list  # (index, dict) pairs, one per plugin entry that is an object
    problems: Problems = field(default_factory=Problems)


def load_json(raw: bytes, location: str, problems: Problems):
    """JSON from bytes; raises ValueError with a line and column on broken JSON."""
    text, notes = decode(raw)
    for code, message in notes:
        problems.warning(code, message, location)
    return json.loads(text)


def parse_catalog(raw: bytes, location: str, repo_url: str) -> Catalog:
    problems = Problems()
    try:
        data = load_json(raw, location, problems)
    except ValueError as exc:
        raise CatalogError("catalog-invalid-json", f"Invalid JSON syntax: {exc}", location) from None
    if not isinstance(data, dict) or "plugins" not in data:
        raise CatalogError(
            "catalog-not-claude-code",
            "This is not a Claude Code marketplace catalogue: expected an object with a 'plugins' array",
            location,
        )
    if not isinstance(data["plugins"], list):
        raise CatalogError("catalog-plugins-not-array", "plugins: Expected array", location)

    for key in sorted(set(data) - CATALOG_KEYS):
        problems.warning("unknown-field", f"Unrecognized field '{key}' will be ignored", location)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.error("catalog-missing-name", "name: Required", location)
        name = ""
    else:
        _check_marketplace_name(name, repo_url, location, problems)
    owner = data.get("owner")
    if not isinstance(owner, dict):
        problems.error("catalog-missing-owner", "owner: Required (an object with a name)", location)
        owner = {}
    elif not isinstance(owner.get("name"), str) or not owner["name"].strip():
        problems.error("owner-name-empty", "owner.name: Marketplace owner name cannot be empty", location)
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    for key in sorted(set(metadata) - METADATA_KEYS):
        problems.warning("unknown-field", f"Unrecognized field 'metadata.{key}' will be ignored", location)
    renames = _check_renames(data.get("renames"), location, problems)

    entries = []
    for index, entry in enumerate(data["plugins"]):
        if isinstance(entry, dict):
            entries.append((index, entry))
        else:
            problems.error("plugin-not-object", "Plugin entry must be an object", f"{location}: plugins[{index}]")
    return Catalog(
        name=name,
        description=_text(data.get("description") or metadata.get("description")),
        version=_text(data.get("version") or metadata.get("version")),
        owner=owner,
        metadata=metadata,
        renames=renames,
        entries=entries,
        problems=problems,
    )


def _check_marketplace_name(name, repo_url, location, problems):
    spoofed = spoofing_problem(name, "Marketplace name")
    if spoofed:
        problems.error(*spoofed, location)
        return
    if not MARKETPLACE_NAME.match(name) or ".." in name:
        problems.error(
            "marketplace-name-invalid",
            f"Marketplace name '{name}' may contain only letters, digits, '.', '_' and '-', "
            "must start with a letter or digit, and must not contain '..'",
            location,
        )
    parts = urlsplit(repo_url)
    official = parts.hostname == "github.com" and parts.path.lower().startswith("/anthropics/")
    reserved = (
        name in RESERVED_MARKETPLACE_NAMES
        or name.lower() in RESERVED_ANY_CASE
        or name.lower().startswith("claudeai-")
    )
    if reserved and not official:
        problems.error("marketplace-name-reserved", f"Marketplace name '{name}' is reserved", location)


def _check_renames(renames, location, problems) -> dict:
    if renames is None:
        return {}
    if not isinstance(renames, dict) or not all(
        isinstance(v, (str, type(None))) for v in renames.values()
    ):
        problems.error("renames-invalid", "renames: Expected an object of old name -> new name or null", location)
        return {}
    for start in renames:
        seen, current = {start}, renames[start]
        while current in renames:
            if current in seen:
                problems.error("renames-cycle", f"renames: cycle through '{start}'", location)
                return {}
            seen.add(current)
            current = renames[current]
    return renames


def check_plugin_name(name, location, problems) -> bool:
    """False when the plugin cannot load; naming advice is recorded without stopping it."""
    if not isinstance(name, str) or not name:
        problems.error("plugin-missing-name", "name: Required", location)
        return False
    spoofed = spoofing_problem(name, "Plugin name")
    if spoofed:
        problems.error(*spoofed, location)
        return False
    if BAD_PLUGIN_NAME_CHARS.search(name):
        problems.error(
            "plugin-name-invalid",
            f"Plugin name '{name}' must not contain spaces, '@', ':', path separators or control characters",
            location,
        )
        return False
    if IMPERSONATING.match(name):
        problems.error(
            "plugin-name-impersonates",
            f"Plugin name '{name}' impersonates an official Anthropic plugin",
            location,
        )
    elif not KEBAB.match(name):
        problems.warning("plugin-name-not-kebab", f"Plugin name '{name}' should be kebab-case", location)
    return True


def parse_source(raw, catalog: Catalog, location: str, problems: Problems, github_url: str):
    """A Source, or None when the entry cannot load (the problem is recorded)."""
    if isinstance(raw, str):
        return _relative_source(raw, catalog, location, problems)
    if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
        problems.error("source-invalid", "source: Expected a path string or an object with 'source'", location)
        return None
    kind = raw["source"]
    if kind in UNSUPPORTED_SOURCES:
        problems.warning(
            "unsupported-source",
            f"'{kind}' sources are not fetched by Skillport (never executed); "
            "the plugin is listed for Claude Code only",
            location,
        )
        return Source(kind=kind, raw=raw)
    if kind not in ("github", "url", "git-subdir"):
        problems.error("source-unknown-type", f"Unknown source type '{kind}'", location)
        return None
    source = Source(kind=kind, raw=raw, ref=_text(raw.get("ref")), sha=_text(raw.get("sha")))
    if source.sha and not SHA_RE.match(source.sha):
        problems.error("source-invalid-sha", "sha: Must be a full 40-character lowercase hex commit SHA", location)
        return None
    if kind == "github":
        repo = raw.get("repo")
        if not isinstance(repo, str) or not re.match(r"^[\w.-]+/[\w.-]+$", repo):
            problems.error("source-invalid-repo", "repo: Expected 'owner/name'", location)
            return None
        source.url = f"{github_url}/{repo.removesuffix('.git')}.git"
    else:
        url = raw.get("url") or (raw.get("repo") if kind == "git-subdir" else None)
        if not isinstance(url, str) or not url:
            problems.error("source-missing-url", "url: Required", location)
            return None
        if kind == "git-subdir" and re.match(r"^[\w.-]+/[\w.-]+$", url):
            url = f"{github_url}/{url.removesuffix('.git')}.git"
        source.url = url
    subdir = raw.get("path")
    if kind == "git-subdir" and not subdir:
        problems.error("source-missing-path", "path: Required for git-subdir sources", location)
        return None
    if subdir:
        try:
            source.path = join_inside("", _text(subdir))
        except Escape:
            problems.error("path-traversal", f"Path '{subdir}' must stay inside the repository", location)
            return None
    return source


def _relative_source(raw, catalog, location, problems):
    if raw in (".", "./"):
        return Source(kind="relative", raw=raw, path="")
    if raw.startswith("./"):
        base = ""
    elif catalog.metadata.get("pluginRoot") and not raw.startswith(("/", "..", "\\")):
        base = str(catalog.metadata["pluginRoot"])
    else:
        if raw.startswith(("/", "..")) or "\\" in raw:
            problems.error("path-traversal", f"Path '{raw}' must be relative and stay inside the marketplace", location)
        else:
            problems.error("source-invalid-path", f"Relative source '{raw}' must start with './'", location)
        return None
    try:
        return Source(kind="relative", raw=raw, path=join_inside(join_inside("", base), raw))
    except Escape:
        problems.error("path-traversal", f"Path '{raw}' must stay inside the marketplace", location)
        return None


def component_paths(value, location, problems) -> list[str]:
    """A `skills`-style field (string or list) as a list of path strings; bad items recorded."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        problems.error("component-path-invalid", "Expected a path or a list of paths", location)
        return []
    return items


def load_object(raw: bytes, location: str, problems: Problems, code: str, consequence: str = "") -> dict | None:
    """A JSON object from bytes, or None with a `code` error saying why (and what follows)."""
    try:
        data = load_json(raw, location, problems)
    except ValueError as exc:
        problems.error(code, f"Invalid JSON syntax: {exc}{consequence}", location)
        return None
    if not isinstance(data, dict):
        problems.error(code, f"Expected a JSON object{consequence}", location)
        return None
    return data


def parse_plugin_json(raw: bytes, location: str, problems: Problems) -> dict | None:
    data = load_object(raw, location, problems, "plugin-json-invalid")
    if data is None:
        return None
    for key in sorted(set(data) - MANIFEST_KEYS):
        problems.warning("unknown-field", f"Unrecognized field '{key}' will be ignored", location)
    if "name" not in data:
        problems.error("plugin-json-missing-name", "name: Required", location)
    if "author" in data and not isinstance(data["author"], dict):
        problems.error("author-not-object", "author: Expected object, received string", location)
        data = {k: v for k, v in data.items() if k != "author"}
    return data


def _text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))

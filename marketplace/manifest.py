"""marketplace.json and plugin.json: what they say, and every way they can be wrong.

One bad plugin entry never sinks the catalogue; only a file that cannot be read as a Claude
Code catalogue at all (a CatalogError) stops a sync, and then the last good catalogue stays.
"""
import json
import re
from dataclasses import dataclass, field

from . import claudefields, inline, names, storable, unfetched
from .gitrepo import SHA_RE
from .problems import CatalogError, Problems
from .skillmd import MAX_NESTING, UTF16_BOMS, decode, kind_of
from .spoofing import spoofing_problem
from .tree import Escape, join_inside

CATALOG_KEYS = {
    "$schema", "name", "owner", "plugins", "description", "version", "metadata", "renames",
    "forceRemoveDeletedPlugins", "allowCrossMarketplaceDependenciesOn",
}
METADATA_KEYS = {"description", "version", "pluginRoot"}
COMPONENT_KEYS = {
    "commands", "agents", "skills", "hooks", "mcpServers", "lspServers", "outputStyles", "themes", "workflows",
    "monitors", "types",
}
# Components Claude Code (2.1.332) takes under `experimental`, checked as at the top level. Monitors and themes
# it still loads at the top level of a plugin.json, and warns that it will stop; their paths must exist there.
EXPERIMENTAL_COMPONENTS = ("monitors", "themes", "outputStyles")
MOVED_TO_EXPERIMENTAL = ("monitors", "themes")
# The rest of what it reads there; it ignores any other key.
EXPERIMENTAL_KEYS = {*EXPERIMENTAL_COMPONENTS, "evals", "syntaxHighlighting"}
DISPLAY_KEYS = {
    "displayName", "description", "version", "author", "homepage", "repository", "license",
    "keywords", "category", "tags",
}
# What else Claude Code (2.1.332) reads of a plugin, by the JSON type it must be (`defaultEnabled`: false installs
# it turned off; `binaries` and
# `experimental` it ignores when they are not objects, `optionalDependencies` when it is no list of plugins:
# claudefields.ignored).
TYPED_KEYS = {"dependencies": list, "channels": list, "settings": dict, "userConfig": dict, "defaultEnabled": bool}
# An entry's `metadata` is a free-form object Claude Code accepts and ignores (the curated catalogue
# and published copies keep provenance there).
PLUGIN_KEYS = ({"name", "metadata", "$schema", "binaries", "experimental", "engines", "network",
                "optionalDependencies"} | set(TYPED_KEYS) | DISPLAY_KEYS | COMPONENT_KEYS)
ENTRY_KEYS = {"source", "strict", "relevance", "headers", "headersHelper"} | PLUGIN_KEYS
# A plugin.json's `category` and `tags` Claude Code (2.1.332) ignores, of whatever type: they belong in the entry.
ENTRY_DISPLAY_KEYS = {"category", "tags"}
MANIFEST_KEYS = PLUGIN_KEYS - ENTRY_DISPLAY_KEYS

# A field not written at all, where null is a value Claude Code refuses.
ABSENT = object()

# Spaces, @, :, path separators and control characters (hidden characters: spoofing.py).
BAD_PLUGIN_NAME_CHARS = re.compile(r"[\s@:/\\\x00-\x1f\x7f]")
# What Claude Code refuses in a plugin.json's name besides a space: controls, marks and bidi embeddings and isolates.
MANIFEST_NAME_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
    # The marketplaces whose plugins this one's may depend on, installed with them (allowCrossMarketplaceDependenciesOn).
    cross_marketplace: list = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    dropped: int = 0  # plugin entries that cannot be read at all (not objects)

    @property
    def official(self) -> bool:
        """Claude Code does not apply its plugin-name rule to the plugins its official marketplaces list."""
        return self.name.lower() in names.EXEMPT_OFFICIAL_MARKETPLACES


# Stands for an array or object nested too deep to read (load_json); no JSON file has reason to hold it.
TOO_DEEP = "\x00nested too deep"
# A JSON string or a bracket: enough to follow nesting without parsing. A string never closed runs to
# the end of the text: otherwise each escaped quote in it started a string of its own that read on to
# the end (40,000 of them: 4.8 s).
JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[][{}]', re.DOTALL)


def load_json(raw: bytes, location: str, problems: Problems, *, cut=False):
    """JSON from bytes; raises ValueError with a line and column on broken JSON.

    json.loads recurses once a level and fails past Python's recursion limit, so arrays and objects
    nested more than MAX_NESTING deep raise ValueError too, or with `cut` are read as TOO_DEEP, for
    a caller that refuses only the item holding one.
    """
    if raw.startswith(UTF16_BOMS):
        raise ValueError("the file is UTF-16, and Claude Code reads JSON as UTF-8 alone: save it as UTF-8")
    text, notes = decode(raw)
    for code, message in notes:
        problems.warning(code, message, location)
    text, deep = _cut_deep(text)
    if deep and not cut:
        raise ValueError(f"values nested more than {MAX_NESTING} levels deep")
    return json.loads(text, parse_int=storable.integer, parse_float=lambda text: storable.number(float(text)),
                      parse_constant=_not_json)


def _not_json(word: str):
    """Python's json reads NaN and Infinity, which are not JSON: Claude Code refuses the file."""
    raise ValueError(f"{word} is not a JSON value")


def _cut_deep(text: str) -> tuple[str, bool]:
    """`text` with each array or object nested more than MAX_NESTING deep replaced by TOO_DEEP."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return text, False
    kept, depth, start, cut_at = [], 0, 0, None
    for match in JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth == MAX_NESTING + 1:
                cut_at = match.start()
        elif token in ("]", "}"):
            if depth == MAX_NESTING + 1:
                kept += [text[start:cut_at], json.dumps(TOO_DEEP)]
                start = match.end()
            depth -= 1
    if depth > MAX_NESTING:  # never closed: the rest is not JSON, and now fails as such
        kept += [text[start:cut_at], json.dumps(TOO_DEEP)]
        start = len(text)
    return "".join(kept) + text[start:], cut_at is not None


def _holds_too_deep(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item == TOO_DEEP:
            return True
    return False


def parse_catalog(raw: bytes, location: str, repo_url: str) -> Catalog:
    problems = Problems()
    try:
        data = load_json(raw, location, problems, cut=True)
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
    if _holds_too_deep([value for key, value in data.items() if key != "plugins"]):
        raise CatalogError("catalog-invalid-json",
                           f"Values outside the plugin entries nest more than {MAX_NESTING} levels deep", location)

    warn_unknown(data, CATALOG_KEYS, location, problems)
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
    warn_unknown(metadata, METADATA_KEYS, location, problems, "metadata.")
    for message in _catalog_types(data):
        problems.error("field-wrong-type", message, location)
    plugin_names = {entry["name"] for entry in data["plugins"] if isinstance(entry, dict) and isinstance(
        entry.get("name"), str)}
    renames = _check_renames(data.get("renames", ABSENT), plugin_names, location, problems)  # null is refused

    entries = []
    for index, entry in enumerate(data["plugins"]):
        if _holds_too_deep(entry):
            problems.error("json-too-deep", f"Plugin entry nests values more than {MAX_NESTING} levels deep; not read",
                           f"{location}: plugins[{index}]")
        elif isinstance(entry, dict):
            entries.append((index, entry))
        else:
            problems.error("plugin-not-object", "Plugin entry must be an object", f"{location}: plugins[{index}]")
    return Catalog(
        dropped=len(data["plugins"]) - len(entries),
        name=name,
        description=_text(data.get("description") or metadata.get("description")),
        version=_text(data.get("version") or metadata.get("version")),
        owner=owner,
        metadata=metadata,
        renames=renames,
        entries=entries,
        problems=problems,
        cross_marketplace=_cross_marketplace(data.get("allowCrossMarketplaceDependenciesOn")),
    )


def _cross_marketplace(allowed) -> list[str]:
    """The marketplaces a catalogue lets its plugins depend on, each once, and only names a dependency can name:
    served again in every member's curated catalogue, a list of anything else would be bytes to no effect."""
    if not isinstance(allowed, list):
        return []
    return list(dict.fromkeys(name for name in allowed if isinstance(name, str)
                              and re.fullmatch(claudefields.DEPENDENCY_NAME, name)))


def _check_marketplace_name(name, repo_url, location, problems):
    """One problem at most: the first rule of Claude Code's that the name breaks."""
    spoofed = spoofing_problem(name, "Marketplace name")
    if spoofed:
        problems.error(*spoofed, location)
        return
    rename = "Name the marketplace for what it offers, in letters, digits, '.', '_' and '-' (e.g. 'acme-tools')."
    if " " in name:
        problems.error("marketplace-name-invalid", f"Marketplace name '{name}' cannot contain spaces. {rename}", location)
    elif "/" in name or "\\" in name or ".." in name or name == ".":
        problems.error(
            "marketplace-name-invalid",
            f"Marketplace name '{name}' cannot contain path separators (/ or \\), '..', or be '.'. {rename}",
            location,
        )
    elif not names.ID_PART.match(name):
        problems.error(
            "marketplace-name-invalid",
            f"Claude Code cannot install plugins from marketplace '{name}': it must start with a letter or digit "
            f"and hold only letters, digits, '.', '_' and '-'. {rename}",
            location,
        )
    elif name.lower() in names.BUILT_IN_MARKETPLACES:
        problems.error(
            "marketplace-name-reserved",
            f"Marketplace name '{name}' is reserved for {names.BUILT_IN_MARKETPLACES[name.lower()]}. {rename}",
            location,
        )
    elif name.lower() in names.OFFICIAL_MARKETPLACES:
        origin = names.official_origin(repo_url)
        message = (
            f"Marketplace name '{name}' is reserved for Anthropic's official marketplaces: Claude Code adds a "
            f"marketplace of this name only from a repository under github.com/anthropics/. {rename}"
        )
        if origin == "other":
            problems.error("marketplace-name-reserved", message, location)
        elif origin == "local":
            # Claude Code's validator does not know where a folder will be published from.
            problems.warning("marketplace-name-reserved", message, location)
    elif names.marketplace_imitates_official(name):
        problems.error(
            "marketplace-name-impersonates",
            f"Marketplace name '{name}' passes as an official Anthropic/Claude marketplace (it puts 'claude' or "
            f"'anthropic' before 'marketplace', 'plugins', 'official' or 'directory'). {rename}",
            location,
        )


# The catalogue's own fields besides its name, owner's name and plugins, by the JSON type Claude Code's
# schema gives them (it refuses the whole catalogue for any other).
CATALOG_TYPES = {"$schema": str, "description": str, "version": str, "forceRemoveDeletedPlugins": bool,
                 "allowCrossMarketplaceDependenciesOn": list, "metadata": dict}
NESTED_STRINGS = (("owner", ("email", "url")), ("metadata", ("description", "version", "pluginRoot")))


def _catalog_types(data: dict) -> list[str]:
    wrong = _wrong_types(data, CATALOG_TYPES)
    allowed = data.get("allowCrossMarketplaceDependenciesOn")
    if isinstance(allowed, list) and not all(isinstance(name, str) for name in allowed):
        wrong.append("allowCrossMarketplaceDependenciesOn: Expected a list of marketplace names")
    for parent, keys in NESTED_STRINGS:
        values = data.get(parent) if isinstance(data.get(parent), dict) else {}
        wrong += _wrong_types(values, dict.fromkeys(keys, str), f"{parent}.")
    return wrong


def _check_renames(renames, plugin_names, location, problems) -> dict:
    if renames is ABSENT:
        return {}
    if not isinstance(renames, dict) or not all(
        isinstance(v, (str, type(None))) for v in renames.values()
    ):
        problems.error("renames-invalid", "renames: Expected an object of old name -> new name or null", location)
        return {}
    for old, new in renames.items():
        if new is not None and new not in plugin_names and new not in renames:
            problems.error("renames-invalid", f"renames: '{old}' is renamed to '{new}', which is no plugin of this "
                                              "catalogue and no other rename: name a plugin, or null for one removed",
                           location)
            return {}
    ending = set()  # old names whose renames end at a name that is not renamed again
    for start in renames:
        walked, current = set(), start
        while current in renames and current not in ending:
            if current in walked:
                problems.error("renames-cycle", f"renames: cycle through '{start}'", location)
                return {}
            walked.add(current)
            current = renames[current]
        ending |= walked  # each name is walked once: a chain of thousands took seconds walked from every name
    return renames


def check_plugin_name(name, location, problems, official_marketplace=False) -> bool:
    """False when Claude Code cannot install a plugin of this name; naming advice does not stop it."""
    if not isinstance(name, str) or not name:
        problems.error("plugin-missing-name", 'name: Required. Give the entry a kebab-case "name" (e.g. "my-plugin")',
                       location)
        return False
    spoofed = spoofing_problem(name, "Plugin name")
    if spoofed:
        problems.error(*spoofed, location)
        return False
    if BAD_PLUGIN_NAME_CHARS.search(name) or not names.ID_PART.match(name):
        problems.error(
            "plugin-name-invalid",
            f"Claude Code cannot install plugin '{name}': a plugin name starts with a letter or digit and holds only "
            "letters, digits, '.', '_' and '-' (no spaces, '@', ':' or path separators). "
            "Rename it in kebab-case (e.g. 'my-plugin')",
            location,
        )
        return False
    rule = None if official_marketplace else names.plugin_name_rule(name)
    if rule and rule[0] == "error":
        problems.error("plugin-name-impersonates", rule[1], location)
    elif rule:
        problems.warning("plugin-name-reads-as-anthropic", rule[1], location)
    elif not names.KEBAB.match(name):
        problems.warning(
            "plugin-name-not-kebab",
            f"Plugin name '{name}' is not kebab-case; Claude.ai's marketplace sync requires lowercase letters, "
            f"digits and hyphens (e.g. '{_kebab(name)}')",
            location,
        )
    return True


def _kebab(name: str) -> str:
    return "-".join(names.tokens(name)) or "my-plugin"


def parse_source(raw, catalog: Catalog, location: str, problems: Problems, github_url: str):
    """A Source, or None when the entry cannot load (the problem is recorded)."""
    if isinstance(raw, str):
        return _relative_source(raw, catalog, location, problems)
    if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
        problems.error("source-invalid", "source: Expected a path string or an object with 'source'", location)
        return None
    kind = raw["source"]
    if kind in unfetched.KINDS:
        if refused := unfetched.problem(raw):
            problems.error("source-field-invalid", f"{refused}. Claude Code will not install this plugin", location)
            return None
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


def component_paths(value) -> list[str]:
    """A `skills`-style field as a list of path strings (check_fields reports a bad one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, str)]


# What each component field accepts (Claude Code's plugin schema): a path or a list of paths,
# each relative to the plugin root (starting './'); some fields take inline objects as well.
COMPONENT_SHAPES = {
    # field: (inline objects allowed, what a path must end with, an example)
    "skills": (False, "", "./skills/my-skill"),
    "commands": (True, "", "./commands/deploy.md"),
    "agents": (False, ".md", "./agents/reviewer.md"),
    "outputStyles": (False, "", "./output-styles"),
    "hooks": (True, ".json", "./hooks/hooks.json"),
    "mcpServers": (True, (".json", ".mcpb", ".dxt"), "./.mcp.json"),
    "lspServers": (True, ".json", "./.lsp.json"),
    "themes": (False, "", "./themes"),
    "workflows": (False, "", "./workflows"),
    "monitors": (True, ".json", "./monitors/monitors.json"),
    "types": (False, ".d.ts", "./types/index.d.ts"),
}


def check_fields(data: dict, location: str, problems: Problems, entry=False) -> tuple[list[str], list[str]]:
    """Claude Code's schema for the component and display fields of an entry (`entry`) or a plugin.json,
    and for the fields only Claude Code uses (claudefields).

    Every failure is an error; returns (failures that refuse the plugin, display failures), because
    Claude Code refuses a plugin for the first kind wherever they are (its components, and the fields
    it reads to install it: its version, dependencies, channels, settings, userConfig, experimental),
    and for the second only in a marketplace entry (a plugin.json's bad display field, or `engines`,
    is passed over when it installs).
    """
    components = []
    for key, (objects, suffix, example) in COMPONENT_SHAPES.items():
        if key in data:
            components += _check_component(key, data[key], objects, suffix, example, location, problems, entry=entry)
    experimental = data.get("experimental") if isinstance(data.get("experimental"), dict) else {}
    for key in EXPERIMENTAL_COMPONENTS:
        if key in experimental:
            objects, suffix, example = COMPONENT_SHAPES[key]
            components += _check_component(key, experimental[key], objects, suffix, example, location, problems,
                                           label=f"experimental.{key}")
    warn_unknown(experimental, EXPERIMENTAL_KEYS, location, problems, "experimental.")
    for key in () if entry else MOVED_TO_EXPERIMENTAL:
        if key in data:
            problems.warning("component-experimental", f"{key}: Claude Code takes it as an experimental component: "
                             f"declare it under experimental.{key}. It still loads here, until a future release",
                             location)
    display = []

    def wrong(code, message):
        problems.error(code, message, location)
        display.append(message)

    author = data.get("author")
    if "author" in data and not isinstance(author, dict):
        wrong("author-not-object", f'author: Expected an object, received {kind_of(author)}. Write "author": {{"name": '
                                   f'{json.dumps(author if isinstance(author, str) else "Your Name")}}}')
    elif "author" in data and (not isinstance(author.get("name"), str) or not author["name"]):
        wrong("author-not-object", 'author.name: Required. Write "author": {"name": "Your Name"}')
    elif "author" in data and (bad := [key for key in ("email", "url") if key in author
                                       and not isinstance(author[key], str)]):
        wrong("author-not-object", f"author.{bad[0]}: Expected a string, received {kind_of(author[bad[0]])}")
    if "repository" in data and not isinstance(data["repository"], str):
        url = data["repository"].get("url") if isinstance(data["repository"], dict) else None
        wrong("repository-not-string", f"repository: Expected a URL string, received {kind_of(data['repository'])}. "
                                       f'Write "repository": {json.dumps(url if isinstance(url, str) else "https://github.com/owner/repo")}')
    if "homepage" in data and not (isinstance(data["homepage"], str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S", data["homepage"])):
        wrong("homepage-invalid", f"homepage: Expected a URL, received {json.dumps(data['homepage'])}. "
                                  'Write a full URL such as "https://example.com/my-plugin"')
    # A plugin.json's category and tags are warned of as belonging in the entry (warn_unknown), whatever they hold.
    shown = data if entry else {key: value for key, value in data.items() if key not in ENTRY_DISPLAY_KEYS}
    for key in ("keywords", "tags"):
        value = shown.get(key)
        if key in shown and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            example = [v.strip() for v in value.split(",")] if isinstance(value, str) else ["search", "docs"]
            wrong("field-wrong-type", f"{key}: Expected a list of strings, received {kind_of(value)}. "
                                      f'Write "{key}": {json.dumps(example)}')
    for key in ("displayName", "description", "license", "category"):
        if key in shown and not isinstance(shown[key], str):
            wrong("field-wrong-type", f'{key}: Expected a string, received {kind_of(data[key])}. '
                                      f'Write "{key}": {json.dumps(str(data[key]))}')
    passed_over = claudefields.engines(data.get("engines"))
    if entry:
        passed_over += claudefields.relevance(data.get("relevance")) + claudefields.headers(data)
    for message in passed_over:
        wrong("field-wrong-type", message)
    # Wherever they are, Claude Code will not install a plugin for these (`claude plugin install` and list, 2.1.332).
    refused = (_wrong_types(data, TYPED_KEYS) + claudefields.experimental(experimental)
               + claudefields.dependencies(data.get("dependencies")) + claudefields.user_config(data.get("userConfig"))
               + claudefields.channels(data.get("channels")))
    if "version" in data and not isinstance(data["version"], str):
        refused.append(f'version: Expected a string, received {kind_of(data["version"])}. '
                       f'Write "version": {json.dumps(str(data["version"]))}')
    for message in refused:
        problems.error("field-wrong-type", message, location)
    components += refused
    for message in claudefields.ignored(data, entry):
        problems.warning("field-ignored", message, location)
    return components, display


def _check_component(key, value, objects, suffix, example, location, problems, label="", entry=False) -> list[str]:
    """Claude Code's schema for one component field, `key`, named `label` where it is not at the top level, of a
    marketplace entry (`entry`) or a plugin.json."""
    label = label or key
    # `types` names one file; `monitors` are a path to a file of them, or a list of monitors written inline.
    if (key == "types" and isinstance(value, list)) or (key == "monitors" and isinstance(value, dict)):
        message = f"{label}: Expected a path string, received {kind_of(value)}. Write \"{label}\": \"{example}\""
        problems.error("component-path-invalid", message, location)
        return [message]
    if key == "monitors" and isinstance(value, list):
        return _refused(inline.monitors(label, value), location, problems)
    items = value if isinstance(value, list) else [value]
    if isinstance(value, dict) and objects:
        return _inline(key, value, location, problems, entry)
    failures = []
    for index, item in enumerate(items):
        where = f"{label}[{index}]" if isinstance(value, list) else label
        if isinstance(item, dict) and objects:
            failures += _inline(key, item, location, problems, entry)  # beside paths, in a list
            continue
        if not isinstance(item, str):
            message = (f"{where}: Expected a path string{' or an object' if objects else ''}, received {kind_of(item)}. "
                       f'Write "{label}": ["{example}"]')
            problems.error("component-path-invalid", message, location)
        elif key == "skills" and item == ".":
            continue
        elif key == "mcpServers" and re.match(r"^https?://", item) and item.endswith((".mcpb", ".dxt")):
            continue
        elif not item.startswith("./"):
            fixed = "./" + re.sub(r"^(\.?/)+", "", item)
            message = (f"{where}: '{item}' must start with './' (paths are relative to the plugin root). "
                       f"Write '{fixed}'")
            problems.error("component-path-not-relative", message, location)
        elif suffix and not item.endswith(suffix):
            ending = suffix if isinstance(suffix, str) else suffix[0]
            code, kind = {"agents": ("agent-path-not-markdown", "Markdown"),
                          "types": ("types-not-declarations", "TypeScript declaration")}.get(
                key, ("component-path-not-json", "JSON"))
            message = f"{where}: '{item}' must name a {kind} file ending in '{ending}' (e.g. '{example}')"
            problems.error(code, message, location)
        else:
            continue
        failures.append(message)
    return failures


def _inline(key, value: dict, location, problems, entry) -> list[str]:
    """The failures of components written inline in one object. A plugin.json's hooks are the exception: Claude
    Code leaves out each event, matcher or hook it cannot read, warns, and loads the plugin with the rest, unless
    the hook is one that guards a tool's use (inline.GUARDS), which it will not install the plugin for."""
    if key == "hooks" and not entry:
        guard = inline.ignore_hooks(value, location, problems)
        return [guard] if guard else []
    return _refused(inline.refusal(key, value), location, problems)


def _refused(message: str, location, problems) -> list[str]:
    """[message], reported as the error it is, for a component written inline Claude Code refuses; else []."""
    if not message:
        return []
    problems.error("component-path-invalid", message, location)
    return [message]


def _wrong_types(data: dict, types: dict, prefix="") -> list[str]:
    """"key: Expected ..., received ..." for each of `types`' keys whose value in `data` is not of its type."""
    return [f"{prefix}{key}: Expected {kind_of(kind())}, received {kind_of(data[key])}"
            for key, kind in types.items() if key in data and not isinstance(data[key], kind)]


# The unknown fields of one object whose warning names a field likely meant: past them, an object of made-up
# keys would spend a sync's time on guesses.
SUGGESTED = 100


def warn_unknown(data: dict, known, location, problems, prefix="", belong_in_entry=frozenset()) -> None:
    """A warning for each field of `data` Claude Code ignores (not in `known`), named with `prefix`. A field of
    `belong_in_entry` belongs in a marketplace entry; the first SUGGESTED others name the field they are likely
    a slip for, as Claude Code's validator does."""
    for index, key in enumerate(sorted(set(data) - set(known))):
        if key in belong_in_entry:
            message = f"Unrecognized field '{key}' will be ignored here: it belongs in the plugin's marketplace entry"
        else:
            message = _unknown_field(key, known, prefix) if index < SUGGESTED else (
                f"Unrecognized field '{prefix}{key}' will be ignored")
        problems.warning("unknown-field", message, location)


def _unknown_field(key: str, known, prefix: str) -> str:
    """The warning for a field Claude Code ignores, naming the known one it is likely a slip for: the same but
    for case, or a letter or two away (one, for a name of three or fewer)."""
    message = f"Unrecognized field '{prefix}{key}' will be ignored"
    most = 1 if len(key) <= 3 else 2
    near = sorted((_edits(key, name, most), name) for name in known if abs(len(name) - len(key)) <= most)
    same_but_case = [name for name in known if name.lower() == key.lower()]
    meant = same_but_case[0] if same_but_case else near[0][1] if near and near[0][0] <= most else ""
    return f"{message}: did you mean '{prefix}{meant}'?" if meant else message


def _edits(a: str, b: str, most: int) -> int:
    """The edits (insertions, deletions, substitutions) that turn `a` into `b`, or `most` + 1 for more."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
        if min(row) > most:
            return most + 1
    return min(row[-1], most + 1)


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


def parse_plugin_json(raw: bytes, location: str, problems: Problems, entry_name: str = "",
                      official_marketplace: bool = False) -> tuple[dict | None, str]:
    """(the manifest or None, why Claude Code refuses the plugin or "").

    The marketplace entry's name is the one checked for impersonation; a plugin.json that names
    the plugin otherwise is held to the same rule.
    """
    data = load_object(raw, location, problems, "plugin-json-invalid",
                       "; Claude Code refuses the plugin until plugin.json is a valid JSON object")
    if data is None:
        return None, "its .claude-plugin/plugin.json is not a valid JSON object"
    warn_unknown(data, MANIFEST_KEYS, location, problems, belong_in_entry=ENTRY_KEYS)
    refusal = ""
    if not isinstance(data.get("name"), str) or not data["name"]:
        problems.error("plugin-json-missing-name",
                       'name: Required. Add "name" (the plugin\'s kebab-case name) to plugin.json', location)
        refusal = "its plugin.json has no name"
    elif " " in data["name"] or MANIFEST_NAME_CONTROLS.search(data["name"]):
        problems.error("plugin-name-invalid", "name: A plugin's name cannot contain spaces, control or bidirectional-"
                       'formatting characters. Use kebab-case (such as "my-plugin")', location)
        refusal = "its plugin.json names it with spaces or control characters"
    elif data["name"] != entry_name:
        # Claude Code installs the plugin by its entry's name and names its skills and commands by this one.
        problems.warning("plugin-name-differs", f"name: plugin.json names the plugin '{data['name'][:100]}', its "
                         f"marketplace entry '{entry_name[:100]}': Claude Code installs it as {entry_name[:100]} and "
                         f"calls its skills and commands {data['name'][:100]}:<skill>. Give both one name", location)
        rule = None if official_marketplace else names.plugin_name_rule(data["name"])
        if rule and rule[0] == "error":
            problems.error("plugin-name-impersonates", rule[1], location)
        elif rule:
            problems.warning("plugin-name-reads-as-anthropic", rule[1], location)
    components, _display = check_fields(data, location, problems)
    # Claude Code ignores a plugin.json's malformed display fields when it installs.
    return {k: v for k, v in data.items() if k != "author" or isinstance(v, dict)}, refusal or "; ".join(components)


def _text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))

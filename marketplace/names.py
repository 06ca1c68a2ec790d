"""Claude Code's rules for marketplace and plugin names: which it cannot install, which are
reserved, and which pass as Anthropic's own (as `claude plugin validate` 2.1.332 applies them).
"""
import re
from urllib.parse import urlsplit

from django.conf import settings

from .gitrepo import is_local

# One part of a plugin id (plugin@marketplace): anything else Claude Code cannot install.
ID_PART = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9._]*$")
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# Anthropic's official marketplaces: only repositories under github.com/anthropics/ may use these
# names, and Claude Code does not apply the plugin-name rule below to the plugins they list.
EXEMPT_OFFICIAL_MARKETPLACES = {
    "claude-code-marketplace", "claude-code-plugins", "claude-plugins-official", "anthropic-marketplace",
    "anthropic-plugins", "agent-skills", "anthropic-agent-skills", "life-sciences", "knowledge-work-plugins",
    "claude-for-legal", "claude-for-financial-services", "financial-services-plugins", "first-party-plugins",
    "claude-tag-plugins", "healthcare",
}
OFFICIAL_MARKETPLACES = EXEMPT_OFFICIAL_MARKETPLACES | {
    "claude-community", "claude-plugins-community", "anthropic-plugin-directory", "claude-plugin-directory",
}
# Names Claude Code keeps for plugins it loads itself, in any case.
BUILT_IN_MARKETPLACES = {
    "inline": "--plugin-dir session plugins",
    "builtin": "built-in plugins",
    "skills-dir": "plugins auto-loaded from .claude/skills/",
    "synced": "plugins synced from a claude.ai account",
    "claude-plugin-test": "plugins loaded by claude plugin test",
}

MARKS = ("claude", "anthropic", "anthropics")
# A plugin name may not start with these (compared with separators removed: "cc_plugin-x" too) ...
RESERVED_LEADS = {"claude", "anthropic", "anthropics", "ccplugin"}
# ... nor be one of these.
RESERVED_WHOLE = {"claude", "anthropic", "anthropics", "claudecode", "claudemods"}
OFFICIAL_BESIDE_MARK = re.compile(
    r"official[^a-z0-9]*(anthropic|claude)|(anthropic|claude)[^a-z0-9]*official", re.IGNORECASE
)
# A marketplace name may not read as Anthropic's marketplace, plugins, official or directory.
MARKETPLACE_WORDS = ("marketplace", "plugins", "official", "directory", "directories")
IMITATES_MARKETPLACE = re.compile(
    rf"{OFFICIAL_BESIDE_MARK.pattern}|^(anthropic|claude)[^a-z0-9]*({'|'.join(MARKETPLACE_WORDS)})", re.IGNORECASE
)
IMITATES_MARKETPLACE_JOINED = re.compile(rf"^(anthropic|claude)({'|'.join(MARKETPLACE_WORDS)})s?$", re.IGNORECASE)
RENAME_ADVICE = "Name it for what it does."


def tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def _joined_prefixes(name: str, limit: int):
    """'cc-plugin-x' -> ('cc', False), ('ccplugin', False), ('ccpluginx', True), up to `limit` letters."""
    parts, joined = tokens(name), ""
    for index, part in enumerate(parts):
        joined += part
        yield joined, index == len(parts) - 1
        if len(joined) > limit:
            return


def plugin_name_rule(name: str) -> tuple[str, str] | None:
    """(severity, message) when a plugin name is reserved (error) or reads as Anthropic's (warning)."""
    longest = max(len(n) for n in RESERVED_LEADS | RESERVED_WHOLE)
    reserved = any(
        joined in (RESERVED_WHOLE if whole else RESERVED_LEADS) for joined, whole in _joined_prefixes(name, longest)
    )
    if reserved or OFFICIAL_BESIDE_MARK.search(name) or OFFICIAL_BESIDE_MARK.search("".join(tokens(name))):
        return "error", (
            f"Plugin name '{name}' is reserved: it passes as one of Anthropic's own. Only Anthropic's official "
            "marketplaces may list a plugin whose name starts with 'claude-', 'anthropic-', 'anthropics-' or "
            "'cc-plugin-', is 'claude', 'anthropic', 'anthropics', 'claude-code' or 'claude-mods', or puts "
            f"'official' beside 'claude' or 'anthropic'. {RENAME_ADVICE}"
        )
    if any(mark in tokens(name) for mark in MARKS):
        return "warning", f"Plugin name '{name}' reads as one of Anthropic's own. {RENAME_ADVICE}"
    return None


def marketplace_imitates_official(name: str) -> bool:
    """Does a marketplace name pass as Anthropic's marketplace (its official names excepted)?"""
    if name.lower() in OFFICIAL_MARKETPLACES:
        return False
    if IMITATES_MARKETPLACE.search(name) or IMITATES_MARKETPLACE.search(re.sub(r"^[^a-z0-9]+", "", name, flags=re.I)):
        return True
    if re.search(r"official(anthropic|claude)|(anthropic|claude)official", re.sub(r"[^a-z0-9]+", "", name, flags=re.I),
                 re.IGNORECASE):
        return True
    limit = len("anthropic") + max(len(w) for w in MARKETPLACE_WORDS) + 1
    return any(IMITATES_MARKETPLACE_JOINED.match(joined) for joined, _whole in _joined_prefixes(name, limit))


def official_origin(url: str) -> str:
    """'anthropics' for a repository under github.com/anthropics/, 'local' for a folder or file://
    path (Claude Code's validator cannot tell where it will be published from), else 'other'."""
    if is_local(url) or not re.match(r"^(https?|ssh|git)://|^[\w.-]+@[\w.-]+:", url):
        return "local"
    if re.match(r"^[\w.-]+@github\.com:anthropics/", url, re.IGNORECASE):
        return "anthropics"
    parts = urlsplit(url)
    github_hosts = {"github.com", urlsplit(settings.SKILLPORT_GITHUB_URL).hostname}
    if parts.hostname in github_hosts and parts.path.lower().startswith("/anthropics/"):
        return "anthropics"
    return "other"

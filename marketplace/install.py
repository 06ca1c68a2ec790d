"""How a skill is installed: the steps every surface shows, only those that work on this deployment.

The skill page, the connector's install_skill and the REST API all read these (one-time links: connector.package_links),
so they say the same thing. Which steps work depends on the deployment:

1. Claude Code installs a plugin through the curated catalogue when that catalogue lists it for the user
   (curated.offers: Claude Code can fetch the plugin's repository, its source is pinned, and the user may
   see all of it) and Claude Code loads it; otherwise the skill goes in as a personal skill, unzipped.
   The catalogue is declared in the user's Claude Code settings with their personal catalogue token
   (claude_code_settings): `/plugin marketplace add` cannot send a token.
2. Claude.ai and Claude Desktop take the `.skill` package as an upload, always.
3. The connector: Claude Code reaches it from the user's machine, but Claude.ai and Claude Desktop
   reach connectors from Anthropic's servers, so only a public https address works for them. People
   sign in with GitHub when a GitHub app is set up, else with a local account.
"""
import json
from ipaddress import ip_address
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from skillport_site.links import absolute_url

from . import claudefields, curated, dependencies, packaging, plugincontent, skillmd
from .models import Marketplace, Plugin
from .snapshot import LINKS_OUT

# Names only a local network resolves: Anthropic's servers cannot reach them.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


# Where the settings snippet has the person's catalogue token before they create one.
TOKEN_PLACEHOLDER = "<token>"


def tokens_url() -> str:
    """Where members create personal catalogue tokens (the connector's page; named here, never imported)."""
    return absolute_url(reverse("connector:catalogue-tokens"))


def curated_marketplaces(user):
    """The marketplaces whose curated catalogue `user` may read and Claude Code can fetch plugins from."""
    return [m for m in Marketplace.objects.visible_to(user).order_by("slug") if curated.reachable(m)]


def claude_code_settings(marketplaces, token=TOKEN_PLACEHOLDER) -> str:
    """What to add to ~/.claude/settings.json so Claude Code knows the curated catalogues of `marketplaces`.

    A catalogue answers only a request that carries a token, and `/plugin marketplace add` sends no
    headers: Claude Code sends them only for marketplaces its settings declare with `headers` (or a
    `headersHelper` command, for https), under the name of the marketplace.json they serve, and adds
    those as it starts (tests/test_claude_code_catalogue.py has the pinned CLI do it).
    """
    known = {m.catalogue_name: {"source": {"source": "url",
                                           "url": absolute_url(reverse("marketplace:curated", args=[m.slug])),
                                           "headers": {"Authorization": f"Bearer {token}"}}}
             for m in marketplaces}
    return json.dumps({"extraKnownMarketplaces": known}, indent=2)


def curated_install(plugin) -> str:
    return f"/plugin install {plugin.name}@{plugin.marketplace.catalogue_name}"


def turned_off(plugin) -> str:
    """The command that turns `plugin` on where Claude Code installs it turned off (`"defaultEnabled": false`, in
    its plugin.json, else its entry, as approved: what the curated catalogue gives), else ""."""
    declared = (plugin.approved_manifest or {}).get("defaultEnabled", plugin.approved_entry.get("defaultEnabled"))
    return f"/plugin enable {plugin.name}@{plugin.marketplace.catalogue_name}" if declared is False else ""


def claude_code(plugin, user, listed=None) -> dict:
    """The route as the REST API gives it: the settings snippet and the install command, both empty when
    Claude Code cannot install `plugin` from `user`'s curated catalogue (`listed`: curated.listing),
    and then `unavailable` says why."""
    if refusal := curated.refusal(plugin, user, listed):
        return {"settings": "", "install": "", "unavailable": refusal}
    settings_snippet, command = claude_code_commands(plugin)
    return {"settings": settings_snippet, "install": command, "unavailable": ""}


def claude_code_route(plugin, user, listed=None) -> list[str]:
    """The settings snippet that adds `user`'s curated catalogue of the plugin's marketplace and the command
    that installs `plugin` from it, or [] when that catalogue does not list it or Claude Code would refuse it."""
    return claude_code_commands(plugin) if curated.offers(plugin, user, listed) else []


def installed_with(plugin, user) -> list[dict]:
    """The plugins Claude Code installs with `plugin` (its optional ones where it finds them), as written: each of
    its own marketplace with its `plugin` where `user` may see it; one of another marketplace (`elsewhere`) it
    installs only where the member has added that one."""
    entry = dependencies.served_entry(plugin.approved_entry, plugin.marketplace)  # as its catalogue names them
    required = dependencies.declared(entry, plugin.approved_manifest)
    optional = [written for written in dependencies.declared(entry, plugin.approved_manifest, "optionalDependencies")
                if written not in required]
    named = []
    for written in required + optional:
        name, _, market = written.partition("@")
        named.append((written, name, "" if market in ("", plugin.marketplace.name) else market))
    if not named:
        return []
    shared = {found.name: found for found in Plugin.objects.visible_to(user).select_related("marketplace").filter(
        marketplace=plugin.marketplace, name__in=[name for _written, name, elsewhere in named if not elsewhere])}
    return [{"written": written, "plugin": None if elsewhere else shared.get(name), "elsewhere": elsewhere,
             "optional": written in optional} for written, name, elsewhere in named]


def skill_route(skill, user) -> list[str]:
    """claude_code_route for installing `skill`: none where its plugin, installed through Skillport, comes without it
    or some of its files (links out of the plugin's folder, reader._report_links_out); it goes in on its own then."""
    if any(problem.get("code") == LINKS_OUT for problem in skill.problems):
        return []
    return claude_code_route(skill.plugin, user)


def claude_code_commands(plugin) -> list[str]:
    """claude_code_route's two, for a caller that knows the curated catalogue lists `plugin`."""
    return [claude_code_settings([plugin.marketplace]), curated_install(plugin)]


def settings_step() -> str:
    """The words before the settings snippet, on every surface."""
    return (f"Once: create a catalogue token at {tokens_url()} and add this to ~/.claude/settings.json "
            f"(merged with what is there), your token in place of {TOKEN_PLACEHOLDER}; Claude Code adds the "
            f"catalogue when it next starts:")


def unzip_command(skill) -> str:
    """Puts the package's folder among the user's personal skills (-o: an update replaces the old files)."""
    return f"unzip -o {packaging.package_name(skill)} -d ~/.claude/skills/"


def steps(skill, user, download_url="") -> dict[str, list[str]]:
    """What to do in Claude Code (CC), Claude Desktop (CD) and Claude.ai (CAI), in the words every surface shows.

    With a one-time `download_url` (install_skill's), the steps say how long it works, and Claude.ai's
    sandbox may fetch it; the skill page's download button needs neither.
    """
    package = packaging.package_name(skill)
    link = f" from the link (it works once, for {settings.SKILLPORT_INSTALL_LINK_SECONDS // 60} minutes)"
    link = link if download_url else ""
    if route := skill_route(skill, user):
        needed = claude_code_needed(skill.plugin)
        claude_code = [*([f"This plugin needs Claude Code {needed}: update yours first if it is older (claude update)."]
                         if needed else []), settings_step(), *route, *_turned_on(skill.plugin),
                       _how_it_runs(skill),
                       *_with_it(skill.plugin), *_besides_skills(skill.plugin)]
    else:
        claude_code = [f"Download {package}{link}.", unzip_command(skill),
                       f"Restart Claude Code; the skill is then available as {skill.name}."]
    upload = [
        f"Download {package}{link}. Do not unzip it.",
        "Open Settings › Capabilities › Skills, and turn on code execution if it is off.",
        f"Upload {package}, check that the skill is switched on, then start a new conversation.",
    ]
    sandbox = [f"Or, in a conversation with code execution, fetch it into the sandbox with: "
               f"curl -fsSL -o {package} '{download_url}'"] if download_url else []
    return {"CC": claude_code, "CD": upload, "CAI": upload + sandbox}


def claude_code_needed(plugin) -> str:
    """The Claude Code versions `plugin` asks for (`engines`: `{"claude-code": ">=2.2.0"}`, in its plugin.json, else
    its entry), as a range, or "" where it asks for none it can read (Claude Code ignores one that is no range).
    Claude Code will not install it elsewhere ("needs Claude Code >=2.2.0, this is 2.1.332")."""
    for declared in (plugin.approved_manifest or {}, plugin.approved_entry):
        engines = declared.get("engines")
        wanted = engines.get("claude-code") if isinstance(engines, dict) else None
        if isinstance(wanted, str):
            found = claudefields.version_range(wanted)
            return "" if found in (None, "", "*") else found[:100]
    return ""


def _how_it_runs(skill) -> str:
    """Who runs the skill once Claude Code has it: a person typing its command, Claude when it is relevant (a skill
    whose frontmatter turns either off, or gives Claude no description, is run the other way alone)."""
    typed, silent = skillmd.typed_by_people(skill.frontmatter), skillmd.not_offered(skill.frontmatter)
    if typed and not silent:
        return f"Restart Claude Code; the skill is then available as /{skill.invocation}."
    if typed:
        return (f"Restart Claude Code; the skill is then available as /{skill.invocation}. Claude does not use it on "
                f"its own: {silent}.")
    if not silent:
        return (f"Restart Claude Code; Claude then uses the skill ({skill.invocation}) when it is relevant. It is not "
                "a command to type: its user-invocable is false.")
    return (f"Restart Claude Code. Neither you nor Claude can run this skill ({skill.invocation}): its user-invocable "
            f"is false and {silent}.")


def _turned_on(plugin) -> list[str]:
    command = turned_off(plugin)
    return [f"Claude Code installs this plugin turned off: turn it on with {command}"] if command else []


def _with_it(plugin) -> list[str]:
    """The plugins installing this one brings too (the curated catalogue lists each, or it would not list this one),
    said before anyone installs it."""
    needed = dependencies.declared(dependencies.served_entry(plugin.approved_entry, plugin.marketplace),
                                   plugin.approved_manifest)
    return [f"Claude Code also installs the plugins it depends on: {', '.join(needed[:10])}"
            f"{' and more' if len(needed) > 10 else ''}."] if needed else []


def _besides_skills(plugin) -> list[str]:
    """What installing the whole plugin brings besides the skill, said before anyone runs it: hooks and
    servers run commands on the person's machine. As the commit the catalogue pins holds it."""
    if not plugin.served_own_hash:
        return []  # skills alone (and the kept content is not read: skill pages leave it deferred)
    listed = plugincontent.listing(plugin.served_own_content, most=5)
    return [f"The plugin also installs what it runs besides its skills, which may run commands on your "
            f"machine: {'; '.join(listed)}. Its page lists them and their security scan."] if listed else []


def panel(skill, user) -> dict:
    """The skill page's install panel: the same steps, which of them are commands to copy, the connector."""
    shown = steps(skill, user)
    plugin = skill.plugin
    return {"steps": shown, "settings": claude_code_settings([plugin.marketplace]),
            "commands": [curated_install(plugin), unzip_command(skill)], "tokens_url": tokens_url(),
            "personal": unzip_command(skill) in shown["CC"], "package": packaging.package_name(skill),
            "connector": connector()}


def reachable_by_claude_ai(url: str) -> bool:
    """Can Anthropic's servers, which Claude.ai and Claude Desktop connect to connectors from, reach `url`?
    Not over plain http, nor at a loopback or private address or a name only a local network resolves.
    (A public name may still resolve to a private address; pages do not look names up.)"""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https":
        return False
    try:
        return ip_address(host).is_global
    except ValueError:
        return "." in host and not host.endswith(LOCAL_SUFFIXES)


def connector() -> dict:
    """The connector's address and, per surface, the steps to add it that work on this deployment."""
    url = settings.SKILLPORT_MCP_URL
    sign_in = "with GitHub" if settings.SKILLPORT_GITHUB_CLIENT_ID else "with your Skillport username and password"
    claude_ai = [
        "Open Settings › Connectors and choose Add custom connector.",
        f"Paste {url} as the URL and add it, then choose Connect and sign in to Skillport {sign_in}.",
    ] if reachable_by_claude_ai(url) else []
    return {
        "url": url,
        "claude_ai": claude_ai,
        # Why there are no Claude.ai steps, said where they would be.
        "claude_ai_unreachable": "" if claude_ai else (
            f"Claude.ai and Claude Desktop reach connectors from Anthropic's servers, which cannot reach "
            f"{settings.SKILLPORT_BASE_URL}: they need Skillport at a public https address. Claude Code "
            f"connects from your machine."),
        "claude_code": [
            f"claude mcp add --transport http skillport {url}",
            f"In Claude Code, run /mcp, choose skillport and sign in to Skillport {sign_in}.",
        ],
    }

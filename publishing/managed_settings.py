"""The `managed-settings.json` fragment of a managed-settings target: where Claude Code gets the
organisation's plugins, and the organisation's policy on them, enforced on every machine.

The keys and source objects are Claude Code's, as documented at
https://code.claude.com/docs/en/plugins/org (extraKnownMarketplaces, strictKnownMarketplaces and
enabledPlugins in managed settings) and https://code.claude.com/docs/en/plugins/marketplace-reference
("Marketplace sources"); tests/test_managed_settings.py has the pinned CLI check each fragment.

1. Sources, keyed by the marketplace's own name (the `name` of the marketplace.json they serve):
   - with `settings_source` (a git target): its published repository at the branch Skillport
     publishes to, `{"source": "github", "repo": "owner/name", "ref": ...}` on github.com (Claude
     Code's `github` source always means github.com), else `{"source": "git", "url": ..., "ref": ...}`;
   - otherwise Skillport's curated catalogue (/m/<slug>/marketplace.json) of each marketplace
     feeding the target that its audience may see, as `{"source": "url", "url": ...}`. That URL
     answers only a signed-in request, and the fragment never carries a secret: on the machines,
     each url source needs `"headersHelper"`, a command that prints
     `{"Authorization": "Bearer <the person's Skillport catalogue token>"}` (HEADERS_HELP).
   Each is added with `autoUpdate` on, so what Skillport publishes next reaches people unasked.
2. `strictKnownMarketplaces` (when the target is strict): exactly those sources, so Claude Code
   accepts no other marketplace. Claude Code matches url entries by URL alone, so the
   headersHelper added on the machines keeps them allowed.
3. `enabledPlugins`: `"<plugin>@<marketplace>": true` for each plugin with policy Required that
   the audience may see and those sources offer; `false` for every plugin with policy Prohibited,
   under each name it could be installed as: its own marketplace's name and, when it feeds the
   published repository, that repository's marketplace name. A false wins over a true.

Keys are sorted, so the same catalogue state always gives the same fragment.
"""
import re
from dataclasses import dataclass

from django.urls import reverse

from marketplace import curated
from marketplace.gitrepo import redact
from marketplace.models import Marketplace, Plugin, Policy
from skillport_site.links import absolute_url

from .selection import choose

HEADERS_HELP = (
    "Skillport's curated catalogues answer only signed-in requests. On each machine, add to every "
    '"url" source a "headersHelper": a command (an absolute path, or one on PATH) that prints '
    '{"Authorization": "Bearer <token>"}, the token being that person\'s Skillport catalogue token '
    "(created at /connect/tokens/), or a token with the skills:read scope minted by an operator "
    "(manage.py mint_token USERNAME --ttl SECONDS). Claude Code runs it whenever it refreshes the marketplace. "
    "Never write a token into managed settings: every user of the machine can read them."
)
# A repository on github.com itself, the only host Claude Code's `github` source reaches: owner, name.
GITHUB_COM = re.compile(r"^(?:https?://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                        r"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$", re.IGNORECASE)


@dataclass
class Plan:
    """What a target's fragment is made of: its sources ({name: source}), the Required plugins it forces on
    ([(plugin, marketplace name)]), the prohibited plugins' published names ({marketplace id: {plugin: name}}),
    and, pointing at the curated catalogues, what every member's catalogue lists (curated.listing)."""
    sources: dict
    required: list
    published_as: dict
    listed: curated.Listed | None = None


def plan(target) -> Plan:
    if target.settings_source_id:
        return Plan(*_published_repository(target))
    listed = curated.listing(None, audience=target.audience)
    return Plan(*_curated_catalogues(target, listed), listed)


def fragment(target, planned: Plan | None = None) -> dict:
    """The managed-settings.json keys for `target` (a managed-settings target), from its `plan`."""
    planned = planned or plan(target)
    sources, required, published_as = planned.sources, planned.required, planned.published_as
    enabled = {f"{plugin.name}@{name}": True for plugin, name in required}
    for plugin in Plugin.objects.filter(policy=Policy.PROHIBITED, removed_at=None).select_related("marketplace"):
        # Blocked under the name of the repository's own catalogue (a member may add it directly) and of its curated one.
        enabled[f"{plugin.name}@{plugin.marketplace.name or plugin.marketplace.slug}"] = False
        enabled[f"{plugin.name}@{plugin.marketplace.catalogue_name}"] = False
        if plugin.name in published_as.get(plugin.marketplace_id, {}):
            enabled[f"{plugin.name}@{published_as[plugin.marketplace_id][plugin.name]}"] = False
    helper = {"headersHelper": target.headers_helper} if target.headers_helper and not target.settings_source_id else {}
    settings = {"extraKnownMarketplaces": {name: {"source": {**source, **helper}, "autoUpdate": True}
                                           for name, source in sorted(sources.items())}}
    if target.strict:
        settings["strictKnownMarketplaces"] = [source for _key, source in sorted(sources.items())]
    settings["enabledPlugins"] = dict(sorted(enabled.items()))
    return settings


def not_forced_on(target, planned: Plan | None = None) -> list[tuple[str, str]]:
    """[(plugin, why)] for each plugin of policy Required, of a marketplace feeding the fragment, that the target's
    audience may see and the fragment (of `planned`) does not force on: where members' Claude Code looks, it would
    find no such plugin, or one that does not load."""
    planned = planned or plan(target)
    fed = target.settings_source.marketplaces.all() if target.settings_source_id else target.marketplaces.all()
    forced, listed = {plugin.pk for plugin, _name in planned.required}, planned.listed
    left = []
    candidates = Plugin.objects.visible_to_audience(target.audience).filter(marketplace__in=fed, policy=Policy.REQUIRED)
    for plugin in candidates.exclude(pk__in=forced).select_related("marketplace").order_by("marketplace__slug", "name"):
        if listed is None:
            why = "the published repository does not carry it for its own audience (its last publish says why)"
        elif not curated.reachable(plugin.marketplace):
            why = "its marketplace is a folder on the Skillport server, which Claude Code cannot fetch"
        elif curated.pinned_source(plugin) is None:
            why = "nothing of it is approved yet, or its source cannot be pinned to a commit"
        elif not plugin.approved_loads:
            why = "Claude Code would not load it (its page says why)"
        elif needed := listed.wanting.get(plugin.pk):
            why = f"it depends on {needed}, which the catalogue does not list for everyone in this audience"
        elif name := curated.prohibited_skill(plugin):
            why = f"it holds {name}, which your organisation prohibits, and Claude Code installs a plugin whole"
        else:
            why = ("some of its skills, or of the plugins its folder holds, are not shared with everyone in this "
                   "audience or are prohibited, and Claude Code installs a plugin's folder whole")
        left.append((f"{plugin.name}@{plugin.marketplace.slug}", why))
    return left


def uses_curated_catalogues(target) -> bool:
    """Does the fragment point at Skillport's own catalogues, which need a headersHelper on the machines?"""
    return not target.settings_source_id


def _published_repository(target):
    """({name: source}, [(required plugin, marketplace name)], {marketplace id: {plugin name: published
    marketplace name}}) for a fragment pointing at a git target's repository."""
    published = target.settings_source
    name = published.marketplace_name
    url = redact(published.repository_url)
    on_github = GITHUB_COM.match(url)
    if on_github:
        source = {"source": "github", "repo": "/".join(on_github.groups()), "ref": published.branch}
    else:
        source = {"source": "git", "url": url, "ref": published.branch}
    fed = list(published.marketplaces.all())
    # What the repository holds: the git target's own choice, for its own audience.
    chosen = [item.plugin for item in choose(fed, published.audience)[0]]
    taken = {plugin.name for plugin in chosen}
    visible = set(Plugin.objects.visible_to_audience(target.audience).filter(
        pk__any=[plugin.pk for plugin in chosen]).values_list("pk", flat=True))
    required = [(plugin, name) for plugin in chosen if plugin.policy == Policy.REQUIRED and plugin.pk in visible]
    # A prohibited plugin is never published, but its name is blocked there too, unless another
    # marketplace's plugin of that name is what the repository holds.
    published_as = {market.pk: {plugin: name for plugin in Plugin.objects.filter(
        marketplace=market, policy=Policy.PROHIBITED).exclude(name__in=taken).values_list("name", flat=True)}
        for market in fed}
    return {name: source}, required, published_as


def _curated_catalogues(target, listed):
    """The same three for a fragment pointing at Skillport's curated catalogues, which list `listed`."""
    kept = [market for market in Marketplace.objects.visible_to_audience(target.audience)
            .filter(pk__in=target.marketplaces.values("pk")).order_by("slug") if curated.reachable(market)]
    sources = {market.catalogue_name: {"source": "url", "url": absolute_url(reverse("marketplace:curated", args=[market.slug]))}
               for market in kept}
    # Only what every member's catalogue lists (curated.py): forced on where it is not, Claude Code would find
    # no such plugin, or one that does not load (without a dependency left out, say).
    plugins = (Plugin.objects.filter(pk__in=listed.ids, marketplace__in=kept, policy=Policy.REQUIRED)
               .select_related("marketplace").order_by("pk"))
    required = [(plugin, plugin.marketplace.catalogue_name) for plugin in plugins if curated.pinned_source(plugin)]
    return sources, required, {}

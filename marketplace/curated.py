"""The curated marketplace.json for Claude Code: what a user may see, each plugin pinned to its approved commit.

Declared in a member's Claude Code settings with their catalogue token (marketplace.install.claude_code_settings:
`/plugin marketplace add` sends no token), https://HOST/m/<slug>/marketplace.json gives Claude Code users
the catalogue the organisation curated, not whatever the repository says today. Claude Code sends the
token only for this file: every source below is a git repository it clones with the person's own access. Sources are
rewritten so they no longer depend on where the catalogue was read from:

Every entry is the plugin's as approved (`Plugin.approved_entry`), beside its approved commit: the entry
declares servers and hooks, and says where the plugin's folder is.

1. A relative source becomes a `git-subdir` source (or a `url` one for the repository root) in
   the marketplace's repository, with `sha` set to the plugin's approved commit: the commit
   Skillport synced, or under an approval policy the last one at which nothing in the plugin
   awaited approval.
2. `github`, `url` and `git-subdir` sources keep their form and get that commit as `sha`.
   A folder on this server (SKILLPORT_ALLOW_LOCAL_SOURCES) is written as a file:// URL, the one form of
   it Claude Code clones ("Invalid git URL" for a path).
3. Sources Skillport never fetches (npm, archives, commands) cannot be pinned, and plugins with no
   approved commit yet have nothing to pin: both are left out.
4. Claude Code installs a plugin whole, so a plugin holding a skill the user may not see is left
   out of their catalogue: the pinned commit would hand them that skill. So is a prohibited plugin, and
   one holding a prohibited skill, as every other surface refuses them. Its folder is what is installed:
   a plugin at the top of the repository (`"./"`) holds the other plugins there too, and their skills.
5. A plugin Claude Code would refuse to load as approved (`Plugin.approved_loads`) is left out: its install would
   fail.
6. So is a plugin that depends on one the catalogue leaves out (dependencies.py): Claude Code would install
   it without that one, and not load it. A catalogue served under another name than its repository gives it
   (another marketplace here has that name) names its own plugins in entries' dependencies by name alone;
   a plugin.json naming its marketplace by the repository's name counts as depending on one left out.

Each entry's `metadata` (a free-form object Claude Code ignores) holds under `skillport` the
provenance digest of each skill the pinned commit holds, so what was installed can be checked
against what was approved and scanned (docs/provenance.md).
"""
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q

from . import dependencies, manifest, provenance
from .gitrepo import is_local
from .models import Curation, Plugin, Policy, Skill, identifier, once_per_key, visibility_key
from .problems import Problems
from .snapshot import HOLDS_TOO_MANY

FETCHED = ("github", "url", "git-subdir")


def reachable(marketplace) -> bool:
    """Can Claude Code fetch from this marketplace's repository? Not when it is a folder on this server."""
    return not is_local(marketplace.git_url) or settings.SKILLPORT_ALLOW_LOCAL_SOURCES


def pinned_source(plugin):
    """The plugin's source as approved, pinned to its approved commit, or None when it cannot be pinned."""
    marketplace = plugin.marketplace
    raw = plugin.approved_entry.get("source")
    source = manifest.parse_source(raw, SimpleNamespace(metadata=marketplace.metadata or {}), "", Problems(),
                                   settings.SKILLPORT_GITHUB_URL)
    sha = plugin.approved_commit
    if source is None or not sha:
        return None
    if source.kind == "relative":
        # The folder the approved commit was read at: `metadata.pluginRoot` may have moved the entry's since.
        path = source.path if plugin.approved_root is None else plugin.approved_root
        if not path:
            return {"source": "url", "url": _git_url(marketplace.git_url), "sha": sha}
        return {"source": "git-subdir", "url": _git_url(marketplace.git_url), "path": path, "sha": sha}
    if source.kind in FETCHED:
        pinned = {key: value for key, value in raw.items() if key != "ref"} | {"sha": sha}
        return pinned | ({"url": _git_url(pinned["url"])} if isinstance(pinned.get("url"), str) else {})
    return None


def _git_url(url: str) -> str:
    """`url` as Claude Code reads a git URL: a folder on this server's path as a file:// URL."""
    if is_local(url) and not url.startswith("file://"):
        return Path(url).expanduser().resolve().as_uri()
    return url


def _overrides(plugin) -> dict:
    """What an admin changed, in the entry's own keys (Claude Code shows the entry's values)."""
    return {key: value for key, value in (
        ("displayName", plugin.display_name_override), ("category", plugin.category_override),
        ("tags", plugin.tags_override),
    ) if value}


def _held_skills(plugins) -> dict:
    """{plugin id: [(identifier, path, digest)]}: the skills each plugin's pinned commit holds, as approved.
    Read as values: whole rows (bodies, rendered HTML) cost 2 s for 10,000 skills."""
    by_pk = {plugin.pk: plugin for plugin in plugins}
    skills = list(Skill.objects.filter(plugin__in=by_pk, in_approved_commit=True).order_by("path")
                  .values_list("pk", "plugin_id", "slug", "path"))
    digests = provenance.digests([pk for pk, *_rest in skills])
    held = {}
    for pk, plugin_id, slug, path in skills:
        plugin = by_pk[plugin_id]
        held.setdefault(plugin_id, []).append((identifier(plugin.marketplace.slug, plugin.name, slug), path,
                                               digests[pk]))
    return held


def _metadata(plugin, source, skills) -> dict:
    """The entry's metadata, with each skill's digest under `skillport`; `path` is the skill's folder
    in the installed plugin (the pinned source's `path` is the plugin's folder in the repository)."""
    prefix = f"{source['path']}/" if source.get("path") else ""
    listed = []
    for name, path, digest in skills:
        inside = {"path": path[len(prefix):]} if path.startswith(prefix) else {}
        listed.append({"skill": name, **inside, "digest": digest})
    upstream = plugin.approved_entry.get("metadata")
    return {**(upstream if isinstance(upstream, dict) else {}), "skillport": {"skills": listed}}


def _listed(user, audience=None):
    """The plugins `user`'s curated catalogues may list, before dependencies: with a source to pin (of a
    kind Skillport fetches, at an approved commit). Given an `audience` (refs, as on a publish target) instead,
    what every member's catalogues list alike."""
    seen = _seen(user, audience)
    # What the pinned commit holds of the plugin (its skills then, removed since or not, as approved) that
    # `user` (or a member) may not see, or nobody may install: one pass over what they may see (NOT IN).
    held = _held(OuterRef("pk"))
    return (_pinnable(seen).exclude(Exists(held.exclude(pk__in=seen(Skill, removed=True))))
            .exclude(Exists(held.filter(policy=Policy.PROHIBITED)))
            .exclude(_holds_unseen(seen)))


def _holds_unseen(seen):
    """Does the plugin's folder hold another plugin (`Plugin.holds`: its folder, or a skill of it), that a member
    may not see or install (`seen`, as in _listed), or a skill of one they may not? Plugins at the top of the
    repository (`"./"`) hold each other, and Claude Code installs the folder whole: a member who may not see one of
    them would get its files. The others as they are now, each skill of theirs (a skill of one may lie elsewhere);
    a plugin holding more than the sync names (HOLDS_TOO_MANY) is left out for everyone."""
    unseen = (Plugin.objects.filter(marketplace=OuterRef("marketplace"), removed_at=None, name__any=OuterRef("holds"))
              .exclude(pk__in=seen(Plugin).exclude(policy=Policy.PROHIBITED)))
    theirs = (Skill.objects.filter(marketplace=OuterRef("marketplace"), removed_at=None, plugin__removed_at=None,
                                   plugin__name__any=OuterRef("holds"))
              .exclude(pk__in=seen(Skill).handed_out()))
    return Q(holds__len__gt=0) & (Q(holds__contains=[HOLDS_TOO_MANY]) | Exists(unseen) | Exists(theirs))


def _seen(user, audience=None):
    """What `user` may see of a model, or every member of `audience` alike."""
    def seen(model, **removed):
        return (model.objects.visible_to(user, **removed) if audience is None
                else model.objects.visible_to_audience(audience, **removed))
    return seen


def _pinnable(seen):
    """The plugins seen whose source can be pinned to an approved commit. One Claude Code would refuse to load is
    left out too: listed, it would fail to install."""
    return (seen(Plugin).filter(curation__in=[Curation.SHOWN, Curation.FEATURED], approved_loads=True,
                                source_kind__in=("relative", *FETCHED))
            .exclude(approved_commit="").exclude(policy=Policy.PROHIBITED))


def _lists(user, plugin) -> bool:
    """Does `user`'s curated catalogue list `plugin`, before dependencies? For every skill page: its SQL is compiled
    once per visibility key (building and compiling the query cost 4-5 ms, running it 0.2), and prepared."""
    compiled = once_per_key(_compiled_lists, visibility_key(user), lambda: _compile_lists(user))
    if compiled is None:
        return False
    sql, params, slot = compiled
    with connection.cursor() as cursor:
        cursor.execute(sql, [plugin.pk if i == slot else param for i, param in enumerate(params)])
        found = cursor.fetchone()
    return found is not None and not any(found)


_compiled_lists = {}
_SOME_PLUGIN = -20261206  # a primary key no plugin has, to find where the plugin's goes in the parameters


def _compile_lists(user):
    """(SQL, parameters, the plugin's parameter index) for `_lists`, or None for someone who sees nothing.

    `_listed`'s conditions, with the skills the member may see narrowed to the plugin's: a prepared statement's generic
    plan, made without knowing the plugin or who asks, estimates that they see almost nothing, and given the whole of
    what they may see it read all of it (15 ms at 10,000 skills; planning it for each plugin instead cost a
    millisecond a page). Narrowed, every table is read by the plugin's key, in any plan (bench/README.md)."""
    seen, held = _seen(user), _held(OuterRef("pk"))
    theirs = seen(Skill, removed=True).filter(plugin=OuterRef(OuterRef("pk")))
    try:
        query = (_pinnable(seen).filter(pk=_SOME_PLUGIN)
                 .annotate(unseen=Exists(held.exclude(pk__in=theirs)),
                           prohibited=Exists(held.filter(policy=Policy.PROHIBITED)),
                           others=ExpressionWrapper(_holds_unseen(seen),
                                                    output_field=BooleanField()))
                 .values_list("unseen", "prohibited", "others").order_by().query)
        sql, params = query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, params, params.index(_SOME_PLUGIN)


def _held(plugin):
    """The skills `plugin`'s approved commit holds."""
    return Skill.objects.filter(plugin=plugin, in_approved_commit=True)


def prohibited_skill(plugin) -> str:
    """The name of a prohibited skill the plugin's approved commit holds, else "": installed whole, the plugin would
    bring it. For admins: a member may not be shown the name."""
    return _held(plugin).filter(policy=Policy.PROHIBITED).order_by("name").values_list("name", flat=True).first() or ""


@dataclass(frozen=True)
class Listed:
    """The plugins a user's curated catalogues list, by id, and for each left out only because a plugin it
    depends on is, that dependency as written."""
    ids: frozenset = frozenset()
    wanting: dict = field(default_factory=dict)


def listing(user, marketplace=None, *, audience=None) -> Listed:
    """What `user`'s curated catalogues (of `marketplace`, or all) list, or every member of `audience`'s alike:
    one query for a page of plugins."""
    plugins = _listed(user, audience)
    if marketplace is not None:
        plugins = plugins.filter(marketplace=marketplace)
    rows = plugins.values_list("pk", "marketplace_id", "name", "marketplace__name", "approved_entry__dependencies",
                               "approved_manifest__dependencies", "marketplace__catalogue_name")
    renamed = {market for _pk, market, _name, market_name, _a, _b, served in rows
               if market_name and served != market_name}  # Marketplace.renamed
    wanting = dependencies.wanting([(pk, market, name, {"dependencies": a}, {"dependencies": b}, market_name)
                                    for pk, market, name, market_name, a, b, _served in rows], renamed=renamed)
    return Listed(frozenset(row[0] for row in rows if row[0] not in wanting), wanting)


# How many plugins a plugin's dependencies may lead to for `_listing_needed` to ask about each alone; past it (a long
# chain), the listing of its whole marketplace is read.
MOST_NEEDED = 20


def _listing_needed(user, plugin) -> Listed | None:
    """`listing` for `plugin` alone: it and the plugins of its marketplace it needs (and they need), each asked about
    on its own (`_lists`), for a page of one plugin with dependencies: the whole listing read every skill the user may
    see (30 ms at 10,000 skills). None where they lead to more than MOST_NEEDED plugins."""
    name = plugin.marketplace.name
    asked, kept, asking = {plugin.name}, [], [plugin]
    while asking:
        kept += [each for each in asking if _lists(user, each)]
        needed = {wanted for each in asking if each in kept
                  for _written, wanted in dependencies.own(each.approved_entry, each.approved_manifest, name)} - asked
        if len(asked | needed) > MOST_NEEDED:
            return None
        asked |= needed
        asking = list(Plugin.objects.filter(marketplace_id=plugin.marketplace_id, name__in=needed)) if needed else []
    wanting = dependencies.wanting([(each.pk, each.marketplace_id, each.name, each.approved_entry,
                                     each.approved_manifest, name) for each in kept],
                                   renamed={plugin.marketplace_id} if plugin.marketplace.renamed else ())
    return Listed(frozenset(each.pk for each in kept if each.pk not in wanting), wanting)


def offers(plugin, user, listed=None) -> bool:
    """Does `user`'s curated catalogue of the plugin's marketplace list it (so `/plugin install` works)?
    `listed` (curated.listing) spares the queries when many plugins are asked about."""
    return not refusal(plugin, user, listed)


def refusal(plugin, user, listed=None) -> str:
    """Why `user`'s curated catalogue does not list `plugin` (a plugin they can see), in words for
    them to read after "Claude Code cannot install this plugin from Skillport: "; "" when it does.
    `listed` as for `offers`. The cheap reasons come first: the last costs a query without `listed`."""
    if plugin.policy == Policy.PROHIBITED:
        return f"your organisation prohibits it: {plugin.policy_reason or 'no reason given'}"
    if not reachable(plugin.marketplace):
        return "its marketplace is a folder on the Skillport server, which Claude Code cannot fetch"
    if not plugin.approved_commit:
        return "no commit of it has been approved yet"
    if not plugin.approved_loads:
        return "Claude Code would refuse to load it (its problems are listed for admins)"
    if pinned_source(plugin) is None:
        return "its source cannot be pinned to the commit approved"
    if listed is None and dependencies.own(plugin.approved_entry, plugin.approved_manifest, plugin.marketplace.name):
        listed = _listing_needed(user, plugin) or listing(user, plugin.marketplace)
    elif listed is None:
        listed = Listed(frozenset([plugin.pk]) if _lists(user, plugin) else frozenset())
    if plugin.pk in listed.ids:
        return ""
    if needed := listed.wanting.get(plugin.pk):
        return (f"it depends on {needed}, which your catalogue does not list, and Claude Code would install it "
                "without that and not load it")
    # _listed's one condition left: installed whole, the plugin would bring skills kept from them or from everyone
    # (which, a query more per plugin on pages listing many, and a name they may not see).
    return ("some of its skills, or of the plugins its folder holds, are not shared with you or are prohibited, and "
            "Claude Code installs a plugin's folder whole")


def _owner(owner) -> dict:
    """The repository's owner as Claude Code's schema takes one: a name, and an email and url only as
    strings (it refuses a whole catalogue for an owner's email that is a number, say)."""
    kept = {key: value for key, value in (owner or {}).items() if key in ("name", "email", "url")
            and isinstance(value, str)}
    return kept if kept.get("name", "").strip() else {"name": "Skillport"}


def catalogue(marketplace, user) -> dict:
    plugins = _listed(user).filter(marketplace=marketplace).select_related("marketplace").order_by("name")
    sourced = [(plugin, source) for plugin in plugins if (source := pinned_source(plugin)) is not None]
    wanting = dependencies.wanting([(p.pk, p.marketplace_id, p.name, p.approved_entry, p.approved_manifest,
                                     marketplace.name) for p, _source in sourced],
                                   renamed={marketplace.pk} if marketplace.renamed else ())
    sourced = [(plugin, source) for plugin, source in sourced if plugin.pk not in wanting]
    held = _held_skills([plugin for plugin, _source in sourced])
    entries = [{**dependencies.served_entry(plugin.approved_entry, marketplace), **_overrides(plugin), "source": source,
                "metadata": _metadata(plugin, source, held.get(plugin.pk, []))} for plugin, source in sourced]
    return {
        "name": marketplace.catalogue_name,
        "owner": _owner(marketplace.owner),
        "description": marketplace.description,
        "metadata": {"description": f"Curated by Skillport from {marketplace.slug} at {marketplace.last_synced_commit}"},
        # Without it, Claude Code would not install a plugin's dependency of another marketplace along with it.
        **({"allowCrossMarketplaceDependenciesOn": marketplace.cross_marketplace} if marketplace.cross_marketplace
           else {}),
        "plugins": entries,
    }

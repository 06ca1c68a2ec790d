"""What a publish target carries: the plugins and skills its whole audience may see, as approved.

The rule is `visible_to_audience` (marketplace/models.py), the same one the web, the API and the
connector apply, plus what only a copy needs: nothing prohibited, nothing Claude Code would refuse,
and for each plugin the commit whose content was approved (`approved_commit`). A skill the
audience may not see is left out of its plugin's copy rather than keeping the plugin out. A plugin
whose dependency is not published with it (of its own marketplace, or of another the target copies) is
left out too (marketplace/dependencies.py): Claude Code would install it without that one, and not load it.
"""
from dataclasses import dataclass, field

from marketplace import dependencies, names
from marketplace.models import SKILL_TEXT, Plugin, Policy, Skill
from marketplace.problems import Problems
from marketplace.tree import same_name_key

# Sources the vendored copy can be made from: the ones a sync fetched and read.
VENDORED_SOURCES = ("relative", "github", "url", "git-subdir")
# A plugin.json naming a component path Claude Code does not load: the plugin loads without it, but its validator
# refuses the plugin.json, and with it a copy's whole marketplace ("Path not found: ./commands").
REFUSED_PATHS = ("component-path-missing", "component-path-in-mcpb-cache")


@dataclass
class Chosen:
    plugin: Plugin
    skills: list[Skill] = field(default_factory=list)


def choose(marketplaces, audience) -> tuple[list[Chosen], Problems]:
    """The plugins to publish for `audience` from `marketplaces`, by name, and why others are not."""
    problems = Problems()
    plugins = list(
        Plugin.objects.visible_to_audience(audience).filter(marketplace__in=marketplaces)
        .select_related("marketplace").order_by("marketplace__slug", "name")
    )
    by_pk = {plugin.pk: plugin for plugin in plugins}
    skills = {}
    # Without what a copy never reads of them (their text, rendered, searched and judged: its files are read apart),
    # each given its plugin as read above: whole rows, each with a plugin of its own, cost 0.8 s of a publish of
    # 2,000 skills.
    for skill in (Skill.objects.visible_to_audience(audience).filter(marketplace__in=marketplaces)
                  .exclude(policy=Policy.PROHIBITED).defer("description", *SKILL_TEXT).order_by("plugin_id", "path")):
        if (plugin := by_pk.get(skill.plugin_id)) is not None:
            skill.plugin, skill.marketplace = plugin, plugin.marketplace
            skills.setdefault(skill.plugin_id, []).append(skill)
    chosen, taken = [], {}
    for plugin in plugins:
        where = f"{plugin.marketplace.slug}/{plugin.name}"
        reason = _left_out(plugin)
        if reason:
            problems.info("not-published", f"{plugin.name} is left out: {reason}", where)
            continue
        # Its folder is plugins/<name>: Ops and ops would be one folder in a checkout on macOS or Windows.
        key = same_name_key(plugin.name)
        if key in taken:
            slug, name = taken[key]
            spelt = "" if name == plugin.name else f" as {name} (one folder name on macOS and Windows)"
            problems.warning(
                "plugin-name-taken",
                f"{plugin.name} is also in {slug}{spelt}, which was published under that name; this one is "
                "left out. Rename one of them, or publish the marketplaces to separate targets",
                where,
            )
            continue
        taken[key] = (plugin.marketplace.slug, plugin.name)
        chosen.append(Chosen(plugin, skills.get(plugin.pk, [])))
    wanting = dependencies.wanting([(item.plugin.pk, item.plugin.marketplace_id, item.plugin.name,
                                     item.plugin.approved_entry, item.plugin.approved_manifest,
                                     item.plugin.marketplace.name)
                                    for item in chosen], together(marketplaces))
    for item in chosen:
        if needed := wanting.get(item.plugin.pk):
            problems.info("not-published", f"{item.plugin.name} is left out: it depends on {needed}, which is not "
                          "published here, and Claude Code would install it without that and not load it",
                          f"{item.plugin.marketplace.slug}/{item.plugin.name}")
    return [item for item in chosen if item.plugin.pk not in wanting], problems


def together(marketplaces) -> dict:
    """{name: id} of the marketplaces a target copies, by the names their catalogues give them: a plugin's
    dependency naming one finds its plugin in the copy, by name alone. A name two of them share names neither
    (Skillport cannot tell which was meant)."""
    found = {}
    for market in marketplaces:
        found[market.name] = None if market.name in found else market.pk
    return {name: pk for name, pk in found.items() if pk is not None}


def _left_out(plugin) -> str:
    if plugin.policy == Policy.PROHIBITED:
        return "prohibited by policy"
    if plugin.approved_commit and not plugin.approved_loads:
        return "Claude Code would refuse to install it (see its problems)"
    if any(p["code"] in REFUSED_PATHS and p["severity"] == "error" for p in plugin.problems):
        return ("its plugin.json names a component it does not hold, which Claude Code's validator refuses for the "
                "whole copy (see its problems)")
    if plugin.source_kind not in VENDORED_SOURCES:
        return f"its source ({plugin.source_kind}) is not one Skillport fetches, so there is nothing to copy"
    if not plugin.approved_commit:
        return "nothing in it has been approved yet"
    rule = names.plugin_name_rule(plugin.name)
    if rule and rule[0] == "error":
        return "its name is reserved for Anthropic's official marketplaces"
    return ""

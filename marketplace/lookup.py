"""Finding a skill or plugin by the names people and Claude use, among what a user may see.

Names may collide across marketplaces (and plugins), so every surface accepts the full
`marketplace/plugin/skill` form, and a short name that matches several gives the choices.
"""
from django.db.models import Q
from django.http import Http404

from . import rows
from .models import Marketplace, Plugin, Skill

# The longest full name a skill can have, marketplace/plugin/skill: a longer one names nothing, and is
# refused before a query without being repeated back (a caller may send a megabyte).
LONGEST_NAME = sum(model._meta.get_field(field).max_length
                   for model, field in ((Marketplace, "slug"), (Plugin, "name"), (Skill, "slug"))) + 2


class NotFound(LookupError):
    pass


class Ambiguous(LookupError):
    def __init__(self, name, choices):
        self.choices = sorted(choices)
        super().__init__(
            f"{name!r} matches {len(self.choices)} skills or plugins; use one of: {', '.join(self.choices)}"
        )


def skill_query(name: str) -> Q:
    """`marketplace/plugin/skill`, `plugin:skill` (as Claude Code invokes it), or a skill's short name."""
    name = name.strip()
    parts = name.split("/")
    if len(parts) == 3:
        return Q(marketplace__slug=parts[0], plugin__name=parts[1], slug=parts[2])
    if ":" in name:
        plugin, _, short = name.partition(":")
        return Q(plugin__name=plugin) & (Q(slug=short) | Q(name=short) | Q(name=name))
    return Q(slug=name) | Q(name=name)


def find_skill(visible, name: str) -> Skill:
    """The one visible skill called `name`; NotFound or Ambiguous otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise NotFound("Give a skill name, e.g. csv-cleanup or marketplace/plugin/skill.")
    if len(name) > LONGEST_NAME:
        raise NotFound(f"No skill has a name that long ({len(name)} characters; at most {LONGEST_NAME}). "
                       "Search with search_skills to find its name.")
    matches = list(visible.filter(skill_query(name)).select_related("plugin", "marketplace")[:26])
    if not matches:
        raise NotFound(f"No skill called {name!r} that you can see. Search with search_skills to find its name.")
    if len(matches) > 1:
        raise Ambiguous(name, [skill.identifier for skill in matches])
    return matches[0]


def find_plugin(visible_plugins, name: str) -> Plugin | None:
    """The one visible plugin called `name` (`marketplace/plugin` or `plugin`), None if there is none."""
    parts = name.strip().split("/")
    query = Q(marketplace__slug=parts[0], name=parts[1]) if len(parts) == 2 else Q(name=name.strip())
    matches = list(visible_plugins.filter(query).select_related("marketplace")[:26])
    if len(matches) > 1:
        raise Ambiguous(name, [f"{p.marketplace.slug}/{p.name}" for p in matches])
    return matches[0] if matches else None


def visible_skill(user, marketplace: str, plugin: str, skill: str) -> Skill | None:
    """The skill at `marketplace/plugin/skill`, with its plugin and marketplace, if `user` may see it:
    the skill pages' lookup, read with `visible_to`'s filter compiled once (rows.py says why)."""
    return rows.visible_skill(user, marketplace, plugin, skill)


def visible_skill_or_404(user, marketplace: str, plugin: str, skill: str) -> Skill:
    """`visible_skill` for pages and the API: a skill nobody showed `user` is a 404, as a missing one is."""
    found = visible_skill(user, marketplace, plugin, skill)
    if found is None:
        raise Http404("No such skill.")
    return found

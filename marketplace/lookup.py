"""Finding a skill or plugin by the names people and Claude use, among what a user may see.

Names may collide across marketplaces (and plugins), so every surface accepts the full
`marketplace/plugin/skill` form, and a short name that matches several gives the choices.
"""
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q
from django.http import Http404

from . import rows
from .models import Marketplace, Plugin, Skill, visibility_key

# Stand-ins for the looked-up values while a query is compiled; they cannot be real slugs.
_PATH_MARKS = ("\x00marketplace", "\x00plugin", "\x00skill")
_MAX_COMPILED = 1000
_compiled_by_path = {}


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
    """The skill at `marketplace/plugin/skill`, with its plugin and marketplace, if `user` may see it.

    The skill pages' lookup. Compiling `visible_to`'s filter took twice as long as running it, so
    its SQL is compiled once per visibility key (users with equal keys get the same filter: that is
    what the key promises) and only the three names change from call to call.
    """
    compiled = _path_query(user)
    if compiled is None:
        return None
    sql, params, slots = compiled
    names = (marketplace, plugin, skill)
    params = [names[slots[i]] if i in slots else param for i, param in enumerate(params)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    (found, found_plugin, found_marketplace), _ = rows.instances(row, Skill, Plugin, Marketplace)
    found.plugin, found.marketplace, found_plugin.marketplace = found_plugin, found_marketplace, found_marketplace
    return found


def visible_skill_or_404(user, marketplace: str, plugin: str, skill: str) -> Skill:
    """`visible_skill` for pages and the API: a skill nobody showed `user` is a 404, as a missing one is."""
    found = visible_skill(user, marketplace, plugin, skill)
    if found is None:
        raise Http404("No such skill.")
    return found


def _path_query(user):
    key = visibility_key(user)
    if key not in _compiled_by_path:
        if len(_compiled_by_path) >= _MAX_COMPILED:
            _compiled_by_path.clear()  # one entry per set of teams; this only bounds a surprise
        _compiled_by_path[key] = _compile_path_query(user)
    return _compiled_by_path[key]


def _compile_path_query(user):
    """(SQL, parameters, {parameter index: which name goes there}), or None for someone who sees nothing."""
    marketplace, plugin, skill = _PATH_MARKS
    visible = Skill.objects.visible_to(user).filter(marketplace__slug=marketplace, plugin__name=plugin, slug=skill)
    try:
        # Unordered: the default ordering would join the marketplace again to sort one row.
        visible_sql, params = visible.values("pk").order_by().query.sql_with_params()
    except EmptyResultSet:
        return None  # `visible_to` admits them to nothing
    slots = {i: _PATH_MARKS.index(param) for i, param in enumerate(params) if param in _PATH_MARKS}
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {rows.columns((Skill, 's'), (Plugin, 'p'), (Marketplace, 'm'))} "
        f"FROM {quote(Skill._meta.db_table)} s "
        f"JOIN {quote(Plugin._meta.db_table)} p ON p.id = s.plugin_id "
        f"JOIN {quote(Marketplace._meta.db_table)} m ON m.id = s.marketplace_id "
        f"WHERE s.id IN ({visible_sql})"
    )
    return sql, params, slots

"""Who a user is, as the refs that visibility rules name, and the read rules of access.json.

Every rule is a list of principals; a user sees a thing when the lists overlap. Principals are
lower-cased strings:
- "*": any signed-in member of the organisation;
- "github:<numeric id>": one GitHub account (stable across renames);
- "github:@<login>": one GitHub account by login;
- "github:@<org>/<team>": every member of a team.
`Skill.objects.visible_to(user)` (models.py) is the one place these lists are compared.
"""
import re

from django.conf import settings

EVERYONE = "*"
REF = re.compile(r"^github:(\d+|@[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9_.-]*)?)$")
# The longest principal a rule can hold (the columns audiences and readers are kept in). PostgreSQL compares
# a longer one cut to this length, so it would match a rule naming any principal it begins with.
LONGEST = 200


def normalise(ref: str) -> str | None:
    """A principal in canonical form, or None if it is not one (nor one a rule can hold)."""
    ref = ref.strip().lower()
    if ref == EVERYONE:
        return ref
    return ref if len(ref) <= LONGEST and REF.match(ref) else None


def principals(user) -> list[str]:
    """Every principal `user` answers to; none for someone who has left the organisation."""
    identity = getattr(user, "github", None)
    if identity is None:
        return [EVERYONE]  # a local account: they exist only where GitHub sign-in is not set up
    if settings.SKILLPORT_GITHUB_ORGS and not set(identity.orgs) & set(settings.SKILLPORT_GITHUB_ORGS):
        return []
    who = [EVERYONE, f"github:{identity.github_id}", f"github:@{identity.login.lower()}"]
    # One longer than any rule holds names nothing (a team's slug may be longer): compared cut, it would.
    return [ref for ref in who + [f"github:@{team.lower()}" for team in identity.teams] if len(ref) <= LONGEST]


def read_principals(skill_name: str, rules: dict) -> list[str]:
    """Who may read a skill under `.skillport/access.json` (FORMAT.md §8).

    No file: everyone. A rule per skill name wins over `defaults`; values are "*", "editors"
    or a list of refs (which may include "*" or "editors").
    """
    if not rules:
        return [EVERYONE]
    skill_rule = rules.get("skills", {}).get(skill_name) if isinstance(rules.get("skills"), dict) else None
    default_rule = rules.get("defaults", {}).get("read", EVERYONE) if isinstance(rules.get("defaults"), dict) else EVERYONE
    rule = skill_rule.get("read", default_rule) if isinstance(skill_rule, dict) else default_rule
    return _expand(rule, rules.get("editors", []))


def editors(rules: dict) -> list[str]:
    """The `editors` of `.skillport/access.json`: who may write (and so propose) in the marketplace."""
    listed = rules.get("editors", []) if isinstance(rules, dict) else []
    return _expand(listed if isinstance(listed, list) else [], [])


def _expand(rule, editors) -> list[str]:
    items = rule if isinstance(rule, list) else [rule]
    found = []
    for item in items:
        if item == "editors":
            found += _expand(editors if isinstance(editors, list) else [], [])
        elif isinstance(item, str) and (ref := normalise(item)):
            found.append(ref)
    # An empty list means nobody, which the overlap test gives for free.
    return sorted(set(found))

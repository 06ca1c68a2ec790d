"""`visible_to(user)`: one rule, four people, every level (marketplace, plugin, skill, access.json)."""
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from marketplace import access, lookup
from marketplace.models import GitHubIdentity, Marketplace, Plugin, Skill
from marketplace.sync import sync_marketplace

from .builders import GitRepo, catalog, person, plugin_entry, skill_md

pytestmark = pytest.mark.django_db

ACCESS = {
    "editors": ["github:@Acme/Core"],
    "defaults": {"read": "*"},
    "skills": {
        "core-only": {"read": "editors"},
        "by-login": {"read": ["github:@Otto"]},
        "by-id": {"read": ["github:4242"]},
        "nobody": {"read": []},
    },
}


@pytest.fixture
def market(make_repo, synced_marketplace):
    return synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), plugin_entry("internal")),
        ".skillport/access.json": json.dumps(ACCESS),
        **{f"plugins/tools/skills/{name}/SKILL.md": skill_md(name)
           for name in ("open", "core-only", "by-login", "by-id", "nobody")},
        "plugins/internal/skills/secret/SKILL.md": skill_md("secret"),
    }))


def visible(user):
    return sorted(Skill.objects.visible_to(user).values_list("name", flat=True))


def test_access_json_read_rules(market, people):
    assert visible(people["member"]) == ["open", "secret"]
    assert visible(people["core"]) == ["core-only", "open", "secret"]
    assert visible(people["design"]) == ["by-login", "open", "secret"]
    assert visible(people["anonymous"]) == []
    id_holder = person("renamed", 4242)
    assert "by-id" in visible(id_holder)  # numeric ids survive login changes


def test_marketplace_plugin_and_skill_audiences(market, people):
    Plugin.objects.filter(name="internal").update(audience=["github:@acme/core"])
    assert "secret" not in visible(people["member"]) and "secret" in visible(people["core"])
    Skill.objects.filter(name="open").update(audience=["github:@otto"])
    assert visible(people["design"]) == ["by-login", "open"]
    assert "open" not in visible(people["core"])
    Marketplace.objects.filter(pk=market.pk).update(audience=["github:@acme/design"])
    assert visible(people["core"]) == []
    assert visible(people["design"]) == ["by-login", "open"]
    assert list(Marketplace.objects.visible_to(people["core"])) == []
    assert list(Plugin.objects.visible_to(people["design"]).values_list("name", flat=True)) == ["tools"]


def test_removed_disabled_and_superuser(market, people, simple_repo):
    Skill.objects.filter(name="open").update(removed_at="2026-01-01T00:00:00Z")
    assert "open" not in visible(people["member"])
    root = people["admin"]
    assert "nobody" in visible(root) and "open" not in visible(root)
    Marketplace.objects.filter(pk=market.pk).update(enabled=False)
    assert visible(people["core"]) == [] and visible(root) == []


def test_access_rules_change_without_skill_changes(market, people):
    repo_rules = {**ACCESS, "defaults": {"read": ["github:@acme/design"]}}
    repo = GitRepo(Path(market.git_url))
    repo.commit({".skillport/access.json": json.dumps(repo_rules)})
    sync_marketplace(market.pk)
    assert visible(people["member"]) == []
    assert visible(people["design"]) == ["by-login", "open", "secret"]


@pytest.mark.parametrize("rule, expected", [
    ("*", ["*"]),
    (["github:@Org/Team", "bogus", "github:12"], ["github:12", "github:@org/team"]),
    ("editors", ["github:@lead"]),
    ([], []),
])
def test_read_principals_expansion(rule, expected):
    rules = {"editors": ["github:@Lead"], "skills": {"x": {"read": rule}}}
    assert access.read_principals("x", rules) == expected
    assert access.read_principals("other", rules) == ["*"]
    assert access.read_principals("x", {}) == ["*"]


def test_a_principal_longer_than_a_rule_holds_names_nobody(market, people):
    """PostgreSQL compares a principal with the 200-character rules cut to their length: a team whose slug runs on
    past a rule's team would be let in. Such a team names nothing; a rule that long is no rule, and its sync still
    stores the rest."""
    team = "acme/" + "t" * 187  # "github:@" and this: 200 characters, the longest a rule holds
    Skill.objects.filter(name="open").update(readers=[f"github:@{team}"])
    assert "open" in visible(person("tee", 30, teams=[team]))
    assert "open" not in visible(person("tez", 31, teams=[team + "zz"]))
    assert access.principals(User.objects.get(username="tez")) == ["*", "github:31", "github:@tez"]

    repo = GitRepo(Path(market.git_url))
    rules = {**ACCESS, "skills": {**ACCESS["skills"], "open": {"read": [f"github:@{team}zz", "github:@otto"]}}}
    repo.commit({".skillport/access.json": json.dumps(rules)})
    assert sync_marketplace(market.pk).status == "ok"
    assert Skill.objects.get(name="open").readers == ["github:@otto"]


def test_someone_who_left_the_org_sees_nothing(market, people, settings):
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    assert visible(people["member"]) == ["open", "secret"]
    GitHubIdentity.objects.filter(login="orla").update(orgs=[])
    fresh = User.objects.get(username="orla")  # as the next request loads them
    assert visible(fresh) == []
    assert list(Marketplace.objects.visible_to(fresh)) == []


def test_hidden_plugins_and_skills_are_invisible_to_everyone(market, people):
    root = people["admin"]
    Skill.objects.filter(name="open").update(curation="hidden")
    Plugin.objects.filter(name="internal").update(curation="hidden")
    for user in (people["member"], people["core"], root):
        names = visible(user)
        assert "open" not in names and "secret" not in names
    assert "internal" not in Plugin.objects.visible_to(people["member"]).values_list("name", flat=True)


def test_the_skill_pages_lookup_agrees_with_visible_to(market, people, settings, django_assert_num_queries):
    """`lookup.visible_skill` compiles visible_to's filter once per visibility key: asked in turn for
    every persona, it must never answer one with another's filter."""
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    root = people["admin"]
    Skill.objects.filter(name="by-id").update(released=False)  # awaiting approval: admins only
    gone = person("gone", 5, ["acme/core"], orgs=())
    users = [people["member"], root, people["core"], gone, people["design"], people["member"], root]
    skills = list(Skill.objects.select_related("plugin"))
    for user in users:
        expected = set(visible(user))
        found = {skill.name for skill in skills
                 if lookup.visible_skill(user, market.slug, skill.plugin.name, skill.slug)}
        assert found == expected, user
    assert lookup.visible_skill(root, market.slug, "tools", "by-id").released is False
    assert lookup.visible_skill(people["anonymous"], market.slug, "tools", "open") is None

    with django_assert_num_queries(1):
        skill = lookup.visible_skill(people["member"], market.slug, "tools", "open")
        assert (skill.plugin.name, skill.marketplace.slug) == ("tools", market.slug)
        assert skill.plugin.marketplace is skill.marketplace
    # Catalogue pages never decrypt the marketplace's secrets.
    assert {"access_token", "webhook_secret"} <= skill.marketplace.get_deferred_fields()


def test_the_managers_built_once_filter_agrees_with_the_rule(market, people, settings):
    """`Model.objects.visible_to` builds the rule once per visibility key and hands out copies: asked in
    turn for every persona, it must answer each as the rule built afresh does, and a copy a caller
    narrows must leave the next caller's whole."""
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    Skill.objects.filter(name="by-id").update(released=False)  # awaiting approval: admins only
    Plugin.objects.filter(name="internal").update(audience=["github:@acme/core"])
    gone = person("gone", 5, ["acme/core"], orgs=())
    users = [people["member"], people["admin"], people["core"], gone, people["design"], people["anonymous"],
             people["outsider"], people["member"], people["admin"]]
    for model in (Marketplace, Plugin, Skill):
        for user in users:
            built_once = set(model.objects.visible_to(user).values_list("pk", flat=True))
            afresh = set(model.objects.all().visible_to(user).values_list("pk", flat=True))
            assert built_once == afresh, (model, user)
    assert visible(people["core"]) == ["core-only", "open", "secret"]
    assert visible(gone) == []

    narrowed = Skill.objects.visible_to(people["core"]).filter(name="open")
    assert [skill.name for skill in narrowed] == ["open"]
    assert visible(people["core"]) == ["core-only", "open", "secret"]
    # Nor does a copy read whole keep its rows for the next caller.
    assert len(list(Skill.objects.visible_to(people["core"]))) == 3
    Skill.objects.filter(name="open").update(curation="hidden")
    assert sorted(skill.name for skill in Skill.objects.visible_to(people["core"])) == ["core-only", "secret"]

    # A related manager is of the same class, but its queryset is one plugin's: never the one kept.
    tools = Plugin.objects.get(name="tools")
    assert sorted(tools.skills.visible_to(people["core"]).values_list("name", flat=True)) == ["core-only"]
    assert visible(people["core"]) == ["core-only", "secret"]
    assert list(Plugin.objects.get(name="internal").skills.visible_to(people["core"]).values_list(
        "name", flat=True)) == ["secret"]

    # A change of teams is a new key, so the next request sees what the new teams admit.
    GitHubIdentity.objects.filter(login="orla").update(teams=["acme/core"])
    assert visible(User.objects.get(username="orla")) == ["core-only", "secret"]

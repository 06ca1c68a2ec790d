"""`visible_to(user)`: one rule, four personas, every level (marketplace, plugin, skill, access.json)."""
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser, User

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
        "by-login": {"read": ["github:@Dana"]},
        "by-id": {"read": ["github:4242"]},
        "nobody": {"read": []},
    },
}


@pytest.fixture
def personas():
    return {
        "member": person("member", 1),
        "core": person("corey", 2, ["acme/core"]),
        "design": person("dana", 3, ["acme/design"]),
        "anonymous": AnonymousUser(),
    }


@pytest.fixture
def market(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), plugin_entry("internal")),
        ".skillport/access.json": json.dumps(ACCESS),
        **{f"plugins/tools/skills/{name}/SKILL.md": skill_md(name)
           for name in ("open", "core-only", "by-login", "by-id", "nobody")},
        "plugins/internal/skills/secret/SKILL.md": skill_md("secret"),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    return m


def visible(user):
    return sorted(Skill.objects.visible_to(user).values_list("name", flat=True))


def test_access_json_read_rules(market, personas):
    assert visible(personas["member"]) == ["open", "secret"]
    assert visible(personas["core"]) == ["core-only", "open", "secret"]
    assert visible(personas["design"]) == ["by-login", "open", "secret"]
    assert visible(personas["anonymous"]) == []
    id_holder = person("renamed", 4242)
    assert "by-id" in visible(id_holder)  # numeric ids survive login changes


def test_marketplace_plugin_and_skill_audiences(market, personas):
    Plugin.objects.filter(name="internal").update(audience=["github:@acme/core"])
    assert "secret" not in visible(personas["member"]) and "secret" in visible(personas["core"])
    Skill.objects.filter(name="open").update(audience=["github:@dana"])
    assert visible(personas["design"]) == ["by-login", "open"]
    assert "open" not in visible(personas["core"])
    Marketplace.objects.filter(pk=market.pk).update(audience=["github:@acme/design"])
    assert visible(personas["core"]) == []
    assert visible(personas["design"]) == ["by-login", "open"]
    assert list(Marketplace.objects.visible_to(personas["core"])) == []
    assert list(Plugin.objects.visible_to(personas["design"]).values_list("name", flat=True)) == ["tools"]


def test_removed_disabled_and_superuser(market, personas, simple_repo):
    Skill.objects.filter(name="open").update(removed_at="2026-01-01T00:00:00Z")
    assert "open" not in visible(personas["member"])
    root = User.objects.create_superuser("root", "r@example.com", "pw")
    assert "nobody" in visible(root) and "open" not in visible(root)
    Marketplace.objects.filter(pk=market.pk).update(enabled=False)
    assert visible(personas["core"]) == [] and visible(root) == []


def test_access_rules_change_without_skill_changes(market, personas):
    repo_rules = {**ACCESS, "defaults": {"read": ["github:@acme/design"]}}
    repo = GitRepo(Path(market.git_url))
    repo.commit({".skillport/access.json": json.dumps(repo_rules)})
    sync_marketplace(market.pk)
    assert visible(personas["member"]) == []
    assert visible(personas["design"]) == ["by-login", "open", "secret"]


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


def test_someone_who_left_the_org_sees_nothing(market, personas, settings):
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    assert visible(personas["member"]) == ["open", "secret"]
    GitHubIdentity.objects.filter(login="member").update(orgs=[])
    fresh = User.objects.get(username="member")  # as the next request loads them
    assert visible(fresh) == []
    assert list(Marketplace.objects.visible_to(fresh)) == []


def test_hidden_plugins_and_skills_are_invisible_to_everyone(market, personas):
    root = User.objects.create_superuser("root2", "r2@example.com", "pw")
    Skill.objects.filter(name="open").update(curation="hidden")
    Plugin.objects.filter(name="internal").update(curation="hidden")
    for user in (personas["member"], personas["core"], root):
        names = visible(user)
        assert "open" not in names and "secret" not in names
    assert "internal" not in Plugin.objects.visible_to(personas["member"]).values_list("name", flat=True)


def test_the_skill_pages_lookup_agrees_with_visible_to(market, personas, settings, django_assert_num_queries):
    """`lookup.visible_skill` compiles visible_to's filter once per visibility key: asked in turn for
    every persona, it must never answer one with another's filter."""
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    root = User.objects.create_superuser("root3", "r3@example.com", "pw")
    Skill.objects.filter(name="by-id").update(approved=False)  # awaiting approval: admins only
    gone = person("gone", 5, ["acme/core"], orgs=())
    users = [personas["member"], root, personas["core"], gone, personas["design"], personas["member"], root]
    skills = list(Skill.objects.select_related("plugin"))
    for user in users:
        expected = set(visible(user))
        found = {skill.name for skill in skills
                 if lookup.visible_skill(user, market.slug, skill.plugin.name, skill.slug)}
        assert found == expected, user
    assert lookup.visible_skill(root, market.slug, "tools", "by-id").approved is False
    assert lookup.visible_skill(personas["anonymous"], market.slug, "tools", "open") is None

    with django_assert_num_queries(1):
        skill = lookup.visible_skill(personas["member"], market.slug, "tools", "open")
        assert (skill.plugin.name, skill.marketplace.slug) == ("tools", market.slug)
        assert skill.plugin.marketplace is skill.marketplace
    # Catalogue pages never decrypt the marketplace's secrets.
    assert {"access_token", "webhook_secret"} <= skill.marketplace.get_deferred_fields()

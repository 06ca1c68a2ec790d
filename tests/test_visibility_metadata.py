"""What is said about the catalogue follows `visible_to` too: a marketplace's sync problems, the home
page's category counts and the curated marketplace.json show nobody what they may not see."""
import json
import re

import pytest
from django.utils import timezone

from marketplace.models import Curation, Plugin, Skill
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md

pytestmark = pytest.mark.django_db


@pytest.fixture
def troubled(make_repo, make_marketplace):
    """A marketplace whose sync finds a problem in the catalogue file, in a visible skill, in a
    core-only skill and in a plugin only admins see."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("open-kit"), plugin_entry("secret-kit", mystery=1), name="troubled", catalogueNote=1,
        ),
        ".skillport/access.json": json.dumps({"skills": {"core-runbook": {"read": ["github:@acme/core"]}}}),
        "plugins/open-kit/skills/visible/SKILL.md": skill_md("visible", description=None, body="About visible.\n"),
        "plugins/open-kit/skills/core-runbook/SKILL.md": skill_md("core-runbook", description=None,
                                                                  body="About the runbook.\n"),
        "plugins/secret-kit/skills/plan/SKILL.md": skill_md("plan", description=None, body="About the plan.\n"),
    })
    market = make_marketplace(repo, slug="troubled")
    sync_marketplace(market.pk)
    Plugin.objects.filter(name="secret-kit").update(curation=Curation.HIDDEN)
    return market


def problems_shown(client, user):
    client.force_login(user)
    page = client.get("/marketplaces/troubled/")
    assert page.status_code == 200
    section = page.content.decode().partition("Latest problems")[2]
    return section


def test_members_read_only_the_problems_about_what_they_may_see(troubled, people, client):
    member = problems_shown(client, people["member"])
    assert "catalogueNote" in member  # the catalogue file is everyone's
    assert "plugins/open-kit/skills/visible" in member
    assert "core-runbook" not in member and "secret-kit" not in member and "mystery" not in member
    assert "plan" not in member

    core = problems_shown(client, people["core"])
    assert "plugins/open-kit/skills/core-runbook" in core and "secret-kit" not in core

    admin = problems_shown(client, people["admin"])
    for named in ("catalogueNote", "open-kit/skills/visible", "core-runbook", "secret-kit", "mystery",
                  "secret-kit/skills/plan"):
        assert named in admin


def test_a_plugins_problems_naming_a_skill_kept_from_a_member_are_kept_from_them(make_repo, make_marketplace,
                                                                                  people, client):
    """Problems stored on a plugin may name its skills: a second skill named like a kept one names both folders,
    and names refused inside a skill's folder are listed on the plugin. Members read the rest."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), name="acme-skills"),
        ".skillport/access.json": json.dumps({"skills": {"merger-talks": {"read": ["github:@acme/core"]}}}),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A."),
        "plugins/tools/skills/merger-talks/SKILL.md": skill_md("merger-talks", "Project Falcon."),
        "plugins/tools/skills/merger-talks/falcon:acquire-contoso.md": "terms\n",
        "plugins/tools/skills/dupe/SKILL.md": skill_md("merger-talks", "A second one."),
        "plugins/tools/skills/alpha/aux.md": "a name Windows refuses\n",
    })
    sync_marketplace(make_marketplace(repo, slug="acme").pk)
    codes = {p["code"] for p in Plugin.objects.get(name="tools").problems}
    assert {"duplicate-skill-name", "unread-files"} <= codes

    def pages(user):
        client.force_login(user)
        return "".join(client.get(url).content.decode() for url in ("/plugins/acme/tools/", "/marketplaces/acme/"))

    member, core = pages(people["member"]), pages(people["core"])
    assert "merger-talks" not in member and "falcon" not in member
    assert "merger-talks" in core and "falcon" in core
    # What names only skills they may see they still read (here too: aux.md and falcon are one problem).
    Skill.objects.filter(slug="merger-talks").update(readers=["*"])
    assert "falcon" in pages(people["member"])


def category_counts(client, user):
    client.force_login(user)
    page = client.get("/").content.decode()
    return dict(re.findall(r'\?category=[^"]*">([^<]+?) <small>(\d+)</small>', page))


def test_home_category_counts_count_only_the_live_skills_each_persona_may_see(two_markets, people, client):
    Plugin.objects.update(category_override="Operations")
    Skill.objects.filter(marketplace__slug="acme", slug="csv-cleanup").update(curation=Curation.HIDDEN)
    Skill.objects.filter(marketplace__slug="labs").update(removed_at=timezone.now())

    assert category_counts(client, people["member"]) == {"Operations": "1"}  # postmortem
    assert category_counts(client, people["core"]) == {"Operations": "2"}  # and core-runbook
    assert category_counts(client, people["admin"]) == {"Operations": "2"}
    assert category_counts(client, people["outsider"]) == {}


def curated_plugins(client, user):
    client.force_login(user)
    return {entry["name"] for entry in client.get("/m/acme/marketplace.json").json()["plugins"]}


def test_the_curated_catalogue_leaves_out_a_plugin_holding_a_skill_the_requester_may_not_see(two_markets, people,
                                                                                             client):
    Plugin.objects.update(curation=Curation.SHOWN)
    assert curated_plugins(client, people["member"]) == set()  # ops-kit holds the core-only runbook
    assert curated_plugins(client, people["core"]) == {"ops-kit"}
    assert curated_plugins(client, people["admin"]) == {"ops-kit"}

    Skill.objects.filter(slug="postmortem").update(curation=Curation.HIDDEN)  # hidden from everyone
    assert curated_plugins(client, people["core"]) == curated_plugins(client, people["admin"]) == set()

    # A skill awaiting its first approval is not in the pinned commit (approval.settle): it withholds nothing.
    Skill.objects.filter(slug="postmortem").update(curation="", released=False, in_approved_commit=False)
    assert curated_plugins(client, people["core"]) == {"ops-kit"}

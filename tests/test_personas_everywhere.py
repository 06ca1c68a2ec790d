"""One rule on every surface: a hidden or team-only skill is invisible to exactly the right people,
in the browser, through the connector and in the curated catalogue for Claude Code."""
import pytest

from marketplace.models import Curation, Skill

from .mcp_client import call

pytestmark = pytest.mark.django_db(transaction=True)

# Who sees which skill of `two_markets` (postmortem is hidden below; core-runbook is core-team only).
SEES = {
    "member": {"csv-cleanup"},
    "core": {"csv-cleanup", "core-runbook"},
    "outsider": set(),
    "admin": {"csv-cleanup", "core-runbook"},
}
SKILLS = ("postmortem", "core-runbook", "csv-cleanup")


@pytest.fixture
def hidden_postmortem(two_markets):
    Skill.objects.filter(slug="postmortem").update(curation=Curation.HIDDEN)
    return two_markets


@pytest.mark.parametrize("persona", SEES)
def test_web_mcp_and_install_links_agree(client, hidden_postmortem, people, persona):
    user = people[persona]
    client.force_login(user)
    for slug in SKILLS:
        visible = slug in SEES[persona]
        page = client.get(f"/skills/acme/ops-kit/{slug}/")
        assert page.status_code == (200 if visible else 404), (persona, slug, "web")
        assert client.get(f"/skills/acme/ops-kit/{slug}/download/").status_code == (200 if visible else 404)
        detail = call(user, "get_skill", {"name": f"acme/ops-kit/{slug}"})
        assert detail.is_error is not visible, (persona, slug, "mcp")
        install = call(user, "install_skill", {"name": f"acme/ops-kit/{slug}"})
        assert install.is_error is not visible, (persona, slug, "install_skill")
    listed = call(user, "list_skills", {"limit": 50}).structured_content["skills"]
    assert {s["short_name"] for s in listed if s["marketplace"] == "acme"} == SEES[persona]


# ops-kit holds the core team's runbook, so only they get the plugin (test_visibility_metadata.py).
@pytest.mark.parametrize("persona, plugins", [("core", ["ops-kit"]), ("member", []), ("outsider", None)])
def test_the_curated_catalogue_follows_the_same_rule(client, two_markets, people, persona, plugins, settings):
    client.force_login(people[persona])
    response = client.get("/m/acme/marketplace.json")
    if plugins is not None:
        assert [p["name"] for p in response.json()["plugins"]] == plugins
    else:
        assert response.status_code == 404

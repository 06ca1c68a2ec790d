"""An admin's display name, category and tags for a plugin: shown on every surface, kept across syncs, audited."""
import pytest

from audit.models import Action, AuditEvent
from marketplace.models import Plugin
from marketplace.sync import sync_marketplace

pytestmark = pytest.mark.django_db

FORM = {"audience": "", "curation": "approved", "policy": "", "policy_reason": "", "notes": ""}


@pytest.fixture
def synced(simple_repo, synced_marketplace):
    m = synced_marketplace(simple_repo, slug="acme")
    return m, Plugin.objects.get(marketplace=m)


def edit(admin_client, plugin, **fields):
    return admin_client.post(f"/admin/marketplace/plugin/{plugin.pk}/change/", {**FORM, **fields})


def test_overrides_show_everywhere_and_survive_a_sync(admin_client, synced, simple_repo):
    m, plugin = synced
    response = edit(admin_client, plugin, display_name_override="Team Tools", category_override="finance",
                    tags_override='["reporting", "quarterly"]')
    assert response.status_code == 302, response.content.decode()[:2000]
    plugin.refresh_from_db()
    assert (plugin.shown_display_name, plugin.shown_category, plugin.shown_tags) == (
        "Team Tools", "finance", ["reporting", "quarterly"])

    assert "alpha" in admin_client.get("/skills/", {"category": "finance"}).content.decode()
    assert "alpha" in admin_client.get("/skills/", {"tag": "quarterly"}).content.decode()
    assert "Team Tools" in admin_client.get("/skills/acme/tools/alpha/").content.decode()
    assert ">finance <small>" in admin_client.get("/").content.decode()
    entry = admin_client.get("/m/acme/marketplace.json").json()["plugins"][0]
    assert (entry["displayName"], entry["category"], entry["tags"]) == ("Team Tools", "finance",
                                                                         ["reporting", "quarterly"])

    simple_repo.commit({"plugins/tools/skills/alpha/SKILL.md": "---\nname: alpha\ndescription: Changed.\n---\nNew\n"})
    assert sync_marketplace(m.pk).updated == 1  # the plugin's row is rewritten from the repository
    plugin.refresh_from_db()
    assert plugin.shown_category == "finance" and plugin.shown_tags == ["reporting", "quarterly"]

    event = AuditEvent.objects.filter(action=Action.CURATION_CHANGED).get()
    assert event.extra["after"]["category_override"] == "finance"
    assert event.extra["before"]["tags_override"] is None


def test_clearing_an_override_brings_back_the_repositorys_value(admin_client, synced):
    _, plugin = synced
    # No override is an empty box, not the text "null" that would have to be cleared first.
    page = admin_client.get(f"/admin/marketplace/plugin/{plugin.pk}/change/").content.decode()
    box = page[page.index('name="tags_override"'):]
    assert box[box.index(">") + 1:box.index("</textarea>")].strip() == ""
    assert page.count("<label>Problems:</label>") == 1  # the table, not the raw list beside it
    edit(admin_client, plugin, category_override="finance", tags_override='["x"]')
    page = admin_client.get(f"/admin/marketplace/plugin/{plugin.pk}/change/").content.decode()
    assert "[&quot;x&quot;]</textarea>" in page
    edit(admin_client, plugin, category_override="", tags_override="")
    plugin.refresh_from_db()
    assert plugin.shown_category == plugin.category and plugin.shown_tags == plugin.tags
    assert plugin.tags_override is None


@pytest.mark.parametrize("tags", ['"finance"', "[1, 2]", '[""]', "{not json"])
def test_bad_tags_are_refused_with_a_message(admin_client, synced, tags):
    _, plugin = synced
    response = edit(admin_client, plugin, tags_override=tags)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    plugin.refresh_from_db()
    assert plugin.tags_override is None


@pytest.mark.django_db(transaction=True)  # the connector reads from its own thread's connection
def test_a_skills_display_name_shows_on_pages_and_the_connector_but_claude_invokes_its_name(admin_client, synced,
                                                                                          simple_repo, admin_user):
    from marketplace.models import Skill

    from .mcp_client import call

    m, _plugin = synced
    skill = Skill.objects.get(slug="alpha")
    response = admin_client.post(f"/admin/marketplace/skill/{skill.pk}/change/",
                                 {**FORM, "display_name_override": "Quarter-end Alpha",
                                  "files-TOTAL_FORMS": 0, "files-INITIAL_FORMS": 0})
    assert response.status_code == 302
    page = admin_client.get("/skills/acme/tools/alpha/").content.decode()
    assert "<h1>Quarter-end Alpha</h1>" in page and "<code>/tools:alpha</code>" in page
    listed = call(admin_user, "list_skills", {}).structured_content["skills"]
    assert {s["short_name"]: s["title"] for s in listed}["alpha"] == "Quarter-end Alpha"

    simple_repo.commit({"plugins/tools/skills/alpha/SKILL.md": "---\nname: alpha\ndescription: Changed.\n---\nNew\n"})
    sync_marketplace(m.pk)
    assert Skill.objects.get(slug="alpha").title == "Quarter-end Alpha"
    event = AuditEvent.objects.get(action=Action.CURATION_CHANGED)
    assert event.skill == "alpha" and event.extra["after"] == {"display_name_override": "Quarter-end Alpha"}

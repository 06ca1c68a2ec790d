"""The connector as Claude reads it: compact results, a hint with every empty one, descriptions that teach
the name format and the search syntax, and wrong arguments answered in our words."""
import json

import pytest

from audit.models import Action, AuditEvent, Surface
from connector.models import InstallLink
from marketplace.models import Skill

from .builders import catalog, plugin_entry, skill_md
from .mcp_client import PROTOCOLS, call, session

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_results_are_compact_json_without_empty_fields(two_markets, people, protocol):
    Skill.objects.filter(slug="postmortem").update(policy="recommended", policy_reason="Use it after every outage.")
    for tool, arguments in [("list_skills", {}), ("get_skill", {"name": "postmortem"}), ("whoami", {}),
                            ("check_updates", {"installed": [{"name": "postmortem", "version": "1.0.0"}]})]:
        result = call(people["member"], tool, arguments, protocol=protocol)
        text = result.content[0].text
        assert json.loads(text) == result.structured_content
        assert text == json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":")), tool
        assert '""' not in text and "null" not in text and "[]" not in text, (tool, text)
    skills = {s["short_name"]: s for s in call(people["member"], "list_skills", protocol=protocol).structured_content[
        "skills"]}
    assert (skills["postmortem"]["policy"], skills["postmortem"]["policy_reason"]) == (
        "recommended", "Use it after every outage.")
    assert "policy" not in skills["csv-cleanup"] and "policy_reason" not in skills["csv-cleanup"]
    # What to type in Claude Code, in every summary as on the skill's page.
    assert skills["postmortem"]["invocation"] == Skill.objects.get(slug="postmortem").invocation == "ops-kit:postmortem"
    verdicts = call(people["member"], "get_skill", {"name": "postmortem"}).structured_content["verdicts"]
    assert {"check": "Loads in Claude Code", "passed": True} in verdicts  # no "reasons": []


def test_an_empty_answer_is_still_the_answer(people, two_markets):
    """Required fields stay, empty or not: an empty page says `skills: []`, with the reason beside it."""
    page = call(people["outsider"], "list_skills").structured_content
    assert page["skills"] == [] and page["total"] == 0 and "whoami" in page["hint"]


def test_list_skills_pages_by_ten(make_repo, synced_marketplace, people):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("many"), name="many"),
        **{f"plugins/many/skills/skill-{n:02}/SKILL.md": skill_md(f"skill-{n:02}", f"Skill number {n}.")
           for n in range(12)},
    })
    synced_marketplace(repo, slug="many")
    page = call(people["member"], "list_skills").structured_content
    assert len(page["skills"]) == 10 and page["total"] == 12 and page["next_cursor"]
    assert len(call(people["member"], "list_skills", {"cursor": page["next_cursor"]}).structured_content[
        "skills"]) == 2
    assert len(call(people["member"], "search_skills", {"query": "skill number"}).structured_content["skills"]) == 10


def test_every_empty_result_says_what_to_try(two_markets, people):
    member = people["member"]
    nothing = call(member, "search_skills", {"query": "quarterly tax filing"}).structured_content
    assert nothing["skills"] == [] and "list_skills" in nothing["hint"] and '"quotes"' in nothing["hint"]
    filtered = call(member, "search_skills", {"query": "tax", "filters": {"plugin": "ops-kit"}}).structured_content
    assert "without filters" in filtered["hint"]
    browsed = call(member, "list_skills", {"filters": {"verdicts": ["scan_passed"]}}).structured_content
    assert browsed["skills"] == [] and "list_skills without them" in browsed["hint"]
    first = call(member, "list_skills", {"limit": 3}).structured_content
    assert "hint" not in first  # something was found: no hint
    beyond = call(member, "list_skills", {"cursor": "bzozMA=="}).structured_content  # offset 30 of 3
    assert beyond["skills"] == [] and "without a cursor" in beyond["hint"]

    outsider = people["outsider"]
    assert "whoami" in call(outsider, "list_skills").structured_content["hint"]
    me = call(outsider, "whoami").structured_content
    assert me["visible_skills"] == 0 and "administrator" in me["hint"]
    assert "hint" not in call(member, "whoami").structured_content

    current = call(member, "check_updates", {"installed": [{"name": "postmortem", "version": "1.2.0"}]})
    assert current.structured_content["install_ready"] == [] and "up to date" in current.structured_content["hint"]
    unknown = call(member, "check_updates", {"installed": [{"name": "csv-cleanup", "version": "1.0.0"}]})
    assert "ambiguous" in unknown.structured_content["hint"] and "marketplace/plugin/skill" in unknown.structured_content[
        "hint"]


def test_an_empty_file_says_so(make_repo, synced_marketplace, people):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="kit"),
        "plugins/kit/skills/notes/SKILL.md": skill_md("notes", "Take notes."),
        "plugins/kit/skills/notes/templates/blank.md": "",
    })
    synced_marketplace(repo, slug="kit")
    read = call(people["member"], "read_skill_file", {"name": "notes", "path": "templates/blank.md"}).structured_content
    assert "text" not in read and read["note"] == "The file is empty."
    past = call(people["member"], "read_skill_file", {"name": "notes", "path": "SKILL.md", "offset": 10_000})
    assert "past the end" in past.structured_content["note"]


def test_descriptions_teach_the_name_format_and_the_search_syntax(people):
    tools = {tool.name: tool for tool in session(people["member"], lambda client: client.list_tools()).tools}
    for name in ("get_skill", "read_skill_file", "install_skill"):
        described = tools[name].input_schema["properties"]["name"]["description"]
        assert "marketplace/plugin/skill" in described and "acme/ops-kit/postmortem" in described
    query = tools["search_skills"].input_schema["properties"]["query"]["description"]
    assert '"exact phrase"' in query and "-word" in query and " or " in query
    assert "marketplace/plugin/skill" in tools["search_skills"].description
    assert tools["list_skills"].input_schema["properties"]["limit"]["default"] == 10
    for tool in tools.values():  # and each keeps its title and hints, which directories need; proposals write
        assert tool.title and tool.annotations.destructive_hint is False
        assert tool.annotations.read_only_hint is (tool.name not in ("propose_skill", "propose_removal"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("tool, arguments, says", [
    ("get_skill", {"skill": "postmortem"},
     ["name is missing", "skill is not among its arguments", "name (required, a string): The skill's full name, "
                                                              "marketplace/plugin/skill"]),
    ("check_updates", {},
     ["installed is missing", "installed (required, a list of {name, version, commit, content_hash})"]),
    ("check_updates", {"installed": [{"version": "1.0.0"}]}, ["installed[0].name is missing"]),
    ("list_skills", {"limit": "many"}, ["limit must be a whole number", "cursor (a string)"]),
    ("install_skill", {"name": "postmortem", "surface": "web"}, ["surface must be one of CC, CD, CAI"]),
    ("read_skill_file", {"name": "postmortem", "file": "SKILL.md"}, ["path is missing", "file is not among"]),
])
def test_wrong_arguments_get_a_short_message_in_our_words(two_markets, people, protocol, tool, arguments, says):
    result = call(people["member"], tool, arguments, protocol=protocol)
    message = result.content[0].text
    assert result.is_error and message.startswith(f"Wrong arguments for {tool}: ")
    for words in says:
        assert words in message, message
    for pydantic in ("validation error", "pydantic", "https://", "input_value", "type=", "Arguments"):
        assert pydantic not in message, message
    assert len(message) < 600


def fetch(client, settings, url):
    return client.get(url.removeprefix(settings.SKILLPORT_BASE_URL)).status_code


def test_each_step_that_downloads_gets_a_link_of_its_own(two_markets, people, client, settings):
    """A link works once: Claude.ai's sandbox fetching its copy must not spend the browser's, nor Claude Code's."""
    result = call(people["member"], "install_skill", {"name": "postmortem"}).structured_content
    links = [result["download_url"], result["claude_code_url"], result["sandbox_url"]]
    assert len(set(links)) == 3 and InstallLink.objects.count() == 3
    assert f"'{result['sandbox_url']}'" in result["steps"]["CAI"][-1]  # the curl command carries its own
    text = json.dumps(result["steps"])
    assert result["download_url"] not in text and result["claude_code_url"] not in text
    assert "Download postmortem.skill from the link" in result["steps"]["CC"][0]
    for url in (result["sandbox_url"], result["download_url"], result["claude_code_url"]):
        assert fetch(client, settings, url) == 200
    assert [fetch(client, settings, url) for url in links] == [410, 410, 410]  # and each once only
    issued = AuditEvent.objects.filter(action=Action.INSTALL_LINK_ISSUED)
    assert sorted((e.surface, e.extra["step"]) for e in issued) == [
        (Surface.CLAUDE_AI, "sandbox"), (Surface.CLAUDE_CODE, "claude_code"), (Surface.CLAUDE_DESKTOP, "download")]
    assert sorted(AuditEvent.objects.filter(action=Action.PACKAGE_DOWNLOADED).values_list("surface", flat=True)) == [
        Surface.CLAUDE_AI, Surface.CLAUDE_CODE, Surface.CLAUDE_DESKTOP]

    only = call(people["member"], "install_skill", {"name": "postmortem", "surface": "CD"}).structured_content
    assert list(only["steps"]) == ["CD"] and "claude_code_url" not in only and "sandbox_url" not in only


def test_claude_code_is_offered_the_plugin_only_where_it_can_add_the_marketplace(
        make_repo, synced_marketplace, people, client, settings):
    files = {
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit", version="1.0.0"), name="team-tools"),
        "plugins/kit/skills/notes/SKILL.md": skill_md("notes", "Take meeting notes."),
    }
    synced_marketplace(make_repo(files), slug="here")
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = False  # so Claude Code cannot fetch a folder on this server
    local = call(people["member"], "install_skill", {"name": "here/kit/notes", "surface": "CC"}).structured_content
    assert "/plugin" not in json.dumps(local) and "claude_code_commands" not in local
    assert local["steps"]["CC"][1:] == ["unzip -o notes.skill -d ~/.claude/skills/",
                                        "Restart Claude Code; the skill is then available as notes."]
    assert fetch(client, settings, local["claude_code_url"]) == 200

    InstallLink.objects.all().delete()
    synced_marketplace(make_repo(files), slug="hub", github_url="https://github.com/acme/team-tools")
    hub = call(people["member"], "install_skill", {"name": "hub/kit/notes", "surface": "CC"}).structured_content
    # The curated catalogue, declared in Claude Code's settings with the user's catalogue token (`/plugin
    # marketplace add` sends none), then the plugin installed from it. Under its slug: "here", added
    # first, goes by the name both catalogues give, and Claude Code keeps one marketplace per name.
    settings_json, install = hub["claude_code_commands"]
    assert json.loads(settings_json) == {"extraKnownMarketplaces": {"hub": {"source": {
        "source": "url", "url": f"{settings.SKILLPORT_BASE_URL}/m/hub/marketplace.json",
        "headers": {"Authorization": "Bearer <token>"}}}}}
    assert install == "/plugin install kit@hub"
    assert hub["steps"]["CC"] == [
        f"Once: create a catalogue token at {settings.SKILLPORT_BASE_URL}/connect/tokens/ and add this to "
        "~/.claude/settings.json (merged with what is there), your token in place of <token>; Claude Code adds the "
        "catalogue when it next starts:",
        *hub["claude_code_commands"], "Restart Claude Code; the skill is then available as /kit:notes."]
    assert "/plugin marketplace add" not in json.dumps(hub)
    assert "claude_code_url" not in hub and not InstallLink.objects.exists()  # Claude Code downloads nothing

    Skill.objects.filter(marketplace__slug="hub").update(policy="prohibited", policy_reason="Use the wiki.")
    refused = call(people["member"], "install_skill", {"name": "hub/kit/notes", "surface": "CC"})
    assert refused.is_error and "Use the wiki." in refused.content[0].text
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED, skill="notes").exists()

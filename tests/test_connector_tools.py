"""The connector's tools and resources, in process: the SDK's own client against our MCPServer."""
import base64
import io
import json
import zipfile

import pytest
from django.utils.html import escape
from mcp.shared.exceptions import MCPError

from audit.models import Action, AuditEvent, Surface
from connector import server
from connector.models import InstallLink
from marketplace import lookup
from marketplace.models import Plugin, Policy, Skill
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry
from .mcp_client import PROTOCOLS, call, session

pytestmark = pytest.mark.django_db(transaction=True)


def names(result):
    return sorted(skill["name"] for skill in result.structured_content["skills"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tools_are_listed_with_titles_and_read_only_hints(people, protocol):
    listed = session(people["member"], lambda client: client.list_tools(), protocol=protocol).tools
    assert {tool.name for tool in listed} == {
        "search_skills", "list_skills", "get_skill", "read_skill_file", "install_skill", "check_updates", "whoami",
        "propose_skill", "propose_removal", "my_proposals",
    }
    for tool in listed:  # the proposals open pull requests, which change nothing until someone merges them
        assert tool.title and tool.description
        assert tool.annotations.read_only_hint is (tool.name not in ("propose_skill", "propose_removal"))
        assert tool.annotations.destructive_hint is False
        assert tool.output_schema, f"{tool.name} has no typed output"
    install = next(tool for tool in listed if tool.name == "install_skill")
    assert install.input_schema["properties"]["surface"]["anyOf"][0]["enum"] == ["CC", "CD", "CAI"]


def test_search_sees_only_what_each_persona_may(two_markets, people):
    query = {"query": "runbook"}
    assert names(call(people["core"], "search_skills", query)) == ["acme/ops-kit/core-runbook"]
    assert names(call(people["member"], "search_skills", query)) == []
    assert names(call(people["outsider"], "list_skills")) == []
    assert len(names(call(people["member"], "list_skills"))) == 3
    assert len(names(call(people["admin"], "list_skills"))) == 4


def test_search_tolerates_a_typo_and_filters(two_markets, people):
    found = call(people["member"], "search_skills", {"query": "postmortm"})
    assert names(found) == ["acme/ops-kit/postmortem"]
    filtered = call(people["member"], "search_skills", {"query": "csv", "filters": {"marketplace": "labs"}})
    assert names(filtered) == ["labs/data-kit/csv-cleanup"]
    bad = call(people["member"], "search_skills", {"query": "csv", "filters": {"marketplace": "nowhere"}})
    assert bad.is_error and "marketplace" in bad.content[0].text


def test_words_that_match_only_outside_the_filters_are_not_corrected(two_markets, people):
    # The page comes back empty, so the typo path runs; the words are held as written, so it offers nothing.
    found = call(people["member"], "search_skills", {"query": "postmortem", "filters": {"marketplace": "labs"}})
    assert names(found) == [] and found.structured_content["total"] == 0
    assert "Nothing you can see matches 'postmortem'" in found.structured_content["hint"]


def test_list_pages_with_a_cursor(two_markets, people):
    first = call(people["member"], "list_skills", {"limit": 2}).structured_content
    assert first["total"] == 3 and len(first["skills"]) == 2 and first["next_cursor"]
    second = call(people["member"], "list_skills", {"limit": 2, "cursor": first["next_cursor"]}).structured_content
    assert len(second["skills"]) == 1 and "next_cursor" not in second  # the last page
    seen = {s["name"] for s in first["skills"]} | {s["name"] for s in second["skills"]}
    assert len(seen) == 3
    bad = call(people["member"], "list_skills", {"cursor": "not-a-cursor"})
    assert bad.is_error and "cursor" in bad.content[0].text


@pytest.mark.parametrize("arguments", [{"limit": 0}, {"limit": 500}, {"limit": "many"}, {"filters": "x"}])
def test_bad_arguments_are_tool_errors_not_crashes(two_markets, people, arguments):
    result = call(people["member"], "list_skills", arguments)
    assert result.is_error and result.content[0].text


def test_an_ambiguous_name_lists_the_choices_and_the_full_name_works(two_markets, people):
    result = call(people["member"], "get_skill", {"name": "csv-cleanup"})
    assert result.is_error
    assert "acme/ops-kit/csv-cleanup" in result.content[0].text and "labs/data-kit/csv-cleanup" in result.content[0].text
    detail = call(people["member"], "get_skill", {"name": "labs/data-kit/csv-cleanup"}).structured_content
    assert detail["description"] == "Experimental CSV cleaner."
    assert call(people["member"], "get_skill", {"name": "ops-kit:csv-cleanup"}).structured_content["marketplace"] == "acme"


def test_get_skill_gives_skill_md_files_and_verdicts(two_markets, people):
    detail = call(people["member"], "get_skill", {"name": "postmortem"}).structured_content
    assert detail["name"] == "acme/ops-kit/postmortem" and detail["version"] == "1.2.0"
    assert "blameless" in detail["skill_md"] and not detail["skill_md_truncated"]
    assert [f["path"] for f in detail["files"]] == ["SKILL.md", "scripts/timeline.py"]
    assert {v["check"] for v in detail["verdicts"]} == {"Loads in Claude Code", "Valid Agent Skill",
                                                        "Uploadable to Claude.ai", "Passes the security scan"}


def test_hidden_and_restricted_skills_are_not_found(two_markets, people):
    for persona in ("member", "outsider"):
        result = call(people[persona], "get_skill", {"name": "acme/ops-kit/core-runbook"})
        assert result.is_error and "No skill called" in result.content[0].text
    Skill.objects.filter(slug="postmortem").update(curation="hidden")
    assert call(people["core"], "get_skill", {"name": "postmortem"}).is_error


def test_a_name_longer_than_any_skill_has_is_refused_without_being_repeated(two_markets, people):
    """Claude (or anyone with a token) may send a megabyte as a name: it names nothing, and the answer (and
    the log line the SDK writes of it) stays short."""
    longest = "/".join(["m" * 50, "p" * 200, "s" * 200])
    assert len(longest) == lookup.LONGEST_NAME
    assert "No skill called" in call(people["member"], "get_skill", {"name": longest}).content[0].text
    for tool, arguments in (("get_skill", {}), ("install_skill", {}), ("read_skill_file", {"path": "SKILL.md"})):
        result = call(people["member"], tool, {"name": "x" * 1_000_000, **arguments})
        text = result.content[0].text
        assert result.is_error and "No skill has a name that long (1000000 characters" in text and len(text) < 300


def test_read_skill_file_reads_text_in_parts_and_is_audited(two_markets, people, monkeypatch):
    result = call(people["member"], "read_skill_file", {"name": "postmortem", "path": "scripts/timeline.py"})
    assert result.structured_content["text"] == "print('timeline')\n"
    monkeypatch.setattr("connector.tools.MAX_TEXT", 10)
    part = call(people["member"], "read_skill_file", {"name": "postmortem", "path": "scripts/timeline.py"})
    assert part.structured_content["text"] == "print('tim" and part.structured_content["next_offset"] == 10
    missing = call(people["member"], "read_skill_file", {"name": "postmortem", "path": "../../etc/passwd"})
    assert missing.is_error and "has no file" in missing.content[0].text
    assert AuditEvent.objects.filter(action=Action.SKILL_FILE_READ, skill="postmortem", actor_login="orla").count() == 2


def test_install_link_works_once_and_downloads_the_package(two_markets, people, client, settings):
    result = call(people["member"], "install_skill", {"name": "postmortem", "surface": "CAI"}).structured_content
    assert list(result["steps"]) == ["CAI"] and any("Upload postmortem.skill" in s for s in result["steps"]["CAI"])
    assert "claude_code_commands" not in result  # ops-kit holds a skill orla may not see: not in her catalogue
    path = result["download_url"].removeprefix(settings.SKILLPORT_BASE_URL)
    response = client.get(path)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "postmortem/SKILL.md" in archive.namelist()
    assert json.loads(archive.read("postmortem/.claude-plugin/plugin.json"))["version"] == "1.2.0"
    assert client.get(path).status_code == 410  # redeemable once
    issued = AuditEvent.objects.filter(action=Action.INSTALL_LINK_ISSUED)  # the browser's, and the sandbox's
    downloaded = AuditEvent.objects.get(action=Action.PACKAGE_DOWNLOADED)
    assert issued.count() == 2
    for event in (*issued, downloaded):
        assert (event.skill, event.actor_login, event.surface, event.client_name, event.client_version) == (
            "postmortem", "orla", Surface.CLAUDE_AI, "Test client", "1.0")
    assert [link.redeemed_at is not None for link in InstallLink.objects.order_by("pk")] == [True, False]


def test_the_skill_page_shows_install_skills_steps_and_verdicts_in_the_same_words(two_markets, people, client,
                                                                                 settings):
    steps = call(people["member"], "install_skill", {"name": "postmortem"}).structured_content["steps"]
    detail = call(people["member"], "get_skill", {"name": "postmortem"}).structured_content
    client.force_login(people["member"])
    page = client.get(detail["url"].removeprefix(settings.SKILLPORT_BASE_URL)).content.decode()
    # The download steps name install_skill's one-time link, where the page has its download button.
    link = f" from the link (it works once, for {settings.SKILLPORT_INSTALL_LINK_SECONDS // 60} minutes)"
    for step in steps["CC"] + steps["CD"]:
        assert escape(step.replace(link, "")) in page
    assert "Download postmortem.skill. Do not unzip it." in page
    assert [v["check"] for v in detail["verdicts"]] == ["Loads in Claude Code", "Valid Agent Skill",
                                                        "Uploadable to Claude.ai", "Passes the security scan"]
    for verdict in detail["verdicts"]:
        assert f"</span> {verdict['check']}" in page


def test_install_link_rechecks_visibility_and_expiry(two_markets, people, client, settings):
    url = call(people["core"], "install_skill", {"name": "core-runbook"}).structured_content["download_url"]
    Plugin.objects.filter(name="ops-kit").update(audience=["github:@acme/design"])
    assert client.get(url.split(settings.SKILLPORT_BASE_URL)[1]).status_code == 404
    assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED, skill="core-runbook").exists()
    settings.SKILLPORT_INSTALL_LINK_SECONDS = -1
    url = call(people["member"], "install_skill", {"name": "labs/data-kit/csv-cleanup"}).structured_content[
        "download_url"]
    assert client.get(url.split(settings.SKILLPORT_BASE_URL)[1]).status_code == 410


def test_a_prohibited_skill_cannot_be_installed(two_markets, people):
    Skill.objects.filter(slug="postmortem").update(policy=Policy.PROHIBITED, policy_reason="Use the wiki template.")
    result = call(people["member"], "install_skill", {"name": "postmortem"})
    assert result.is_error and "Use the wiki template." in result.content[0].text
    assert not InstallLink.objects.exists()


@pytest.mark.parametrize("installed, status", [
    ({"name": "postmortem", "version": "1.0.0"}, "update_available"),
    ({"name": "postmortem", "version": "v1.2.0"}, "up_to_date"),
    ({"name": "postmortem", "version": "2.0.0"}, "up_to_date"),
    ({"name": "labs/data-kit/csv-cleanup", "version": "nightly"}, "up_to_date"),
    ({"name": "labs/data-kit/csv-cleanup", "version": "last-week"}, "update_available"),
    ({"name": "csv-cleanup", "version": "1.0.0"}, "ambiguous"),
    ({"name": "core-runbook", "version": "1.0.0"}, "not_found"),
    ({"name": "postmortem"}, "unknown_version"),
])
def test_check_updates(two_markets, people, installed, status):
    result = call(people["member"], "check_updates", {"installed": [installed]}).structured_content
    assert [r["status"] for r in result["results"]] == [status]
    expected = [result["results"][0]["skill"]] if status == "update_available" else []
    assert result["install_ready"] == expected


def test_check_updates_by_plugin_and_by_commit(two_markets, people):
    commit = Plugin.objects.get(name="data-kit").commit
    result = call(people["member"], "check_updates", {"installed": [
        {"name": "ops-kit", "version": "1.1.0"}, {"name": "data-kit", "version": "x", "commit": commit[:8]},
    ]}).structured_content
    assert {(r["skill"], r["status"]) for r in result["results"]} == {
        ("acme/ops-kit/postmortem", "update_available"), ("acme/ops-kit/csv-cleanup", "update_available"),
        ("labs/data-kit/csv-cleanup", "up_to_date"),
    }
    assert result["install_ready"] == ["acme/ops-kit/csv-cleanup", "acme/ops-kit/postmortem"]


def test_whoami(two_markets, people):
    me = call(people["core"], "whoami").structured_content
    assert (me["github_login"], me["teams"], me["visible_skills"]) == ("tam", ["acme/core"], 4)


def test_resources_are_the_visible_skill_files(two_markets, people):
    async def steps(client):
        listed = await client.list_resources()
        read = await client.read_resource("skill://acme/ops-kit/postmortem/scripts/timeline.py")
        return listed, read

    listed, read = session(people["member"], steps)
    uris = {str(r.uri) for r in listed.resources}
    assert "skill://acme/ops-kit/postmortem/SKILL.md" in uris
    assert not any("core-runbook" in uri for uri in uris)
    assert read.contents[0].text == "print('timeline')\n"
    event = AuditEvent.objects.get(action=Action.SKILL_FILE_READ, extra__via="resource")
    # The client's surface, as for the same file read through read_skill_file: not "Unknown".
    assert (event.skill, event.client_name, event.surface) == ("postmortem", "Test client", Surface.MCP)

    async def forbidden(client):
        try:
            await client.read_resource("skill://acme/ops-kit/core-runbook/SKILL.md")
        except MCPError as error:
            return str(error)

    assert "No skill called" in session(people["member"], forbidden)


def test_resources_are_listed_page_by_page_from_where_the_last_ended(two_markets, people, monkeypatch):
    """Each page's cursor names the last file it gave, and the next starts after it: every visible file once, in
    order, however small the page. A cursor the server did not give out is the client's mistake."""
    async def every(client):
        whole = await client.list_resources()
        pages, cursor = [], None
        while True:
            page = await client.list_resources(cursor=cursor)
            pages.append([str(resource.uri) for resource in page.resources])
            if not (cursor := page.next_cursor):
                return [str(resource.uri) for resource in whole.resources], pages

    whole, _ = session(people["member"], every)
    monkeypatch.setattr(server, "RESOURCE_PAGE", 3)
    _, pages = session(people["member"], every)
    assert [len(page) for page in pages] == [3] * (len(whole) // 3) + ([len(whole) % 3] if len(whole) % 3 else [])
    assert len(pages) >= 2
    assert [uri for page in pages for uri in page] == whole

    async def forged(client):
        refused = []
        for cursor in ("bz0xMA==", "not base64!", base64.urlsafe_b64encode(b'["after", -1, "x"]').decode(),
                       base64.urlsafe_b64encode(b'["after", 1, ""]').decode(),
                       base64.urlsafe_b64encode(b'["after", 99999999999999999999, "x"]').decode()):
            try:
                await client.list_resources(cursor=cursor)
            except MCPError as error:
                refused.append(str(error))
        return refused

    assert session(people["member"], forged) == ["That cursor is not one this server gave out; start again without "
                                                  "a cursor."] * 5


def test_results_stay_under_claudes_limit(make_repo, make_marketplace, people):
    long_body = "word " * 60_000  # 300,000 characters of SKILL.md
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("big"), name="big"),
        "plugins/big/skills/huge/SKILL.md": "---\nname: huge\ndescription: " + "d" * 5000 + "\n---\n" + long_body,
    })
    sync_marketplace(make_marketplace(repo, slug="big").pk)
    for tool, arguments in [("get_skill", {"name": "huge"}), ("list_skills", {"limit": 50}),
                            ("read_skill_file", {"name": "huge", "path": "SKILL.md"})]:
        result = call(people["member"], tool, arguments)
        assert not result.is_error
        assert len(result.content[0].text) < 150_000



def test_a_client_calling_without_end_is_told_when_to_ask_again(two_markets, people, settings):
    """A model in a loop, say: every tool call and read of a user counts against SKILLPORT_MCP_RATE, cached answers
    too; over it, a tool error Claude can relay, or a JSON-RPC error to a protocol request. Others go on."""
    settings.SKILLPORT_MCP_RATE = "3/hour"  # an hour's window: this test does not cross into the next

    async def steps(client):
        answers = [await client.call_tool("search_skills", {"query": "postmortem"}) for _ in range(3)]
        over = await client.call_tool("search_skills", {"query": "postmortem"})  # the cache holds its answer
        with pytest.raises(MCPError) as read:
            await client.read_resource("skill://acme/ops-kit/postmortem/SKILL.md")
        return answers, over, read.value.error

    answers, over, read = session(people["member"], steps)
    assert [names(answer) for answer in answers] == [["acme/ops-kit/postmortem"]] * 3
    said = "Skillport takes at most 3/hour requests from one person through the connector; try again in "
    assert over.is_error and said in over.content[0].text
    wait = int(over.content[0].text.partition(said)[2].split()[0])
    assert 0 < wait <= 3600
    assert (read.code, read.message[:len(said)], 0 < read.data["retryAfter"] <= 3600) == (-32000, said, True)
    assert not AuditEvent.objects.filter(action=Action.SKILL_FILE_READ).exists()
    assert names(call(people["core"], "search_skills", {"query": "postmortem"})) == ["acme/ops-kit/postmortem"]

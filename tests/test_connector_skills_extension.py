"""The Skills extension (SEP-2640) beside the tools, through the official MCP client: skills/list and skills/get
sent as the custom requests they are (the SDK has no typed ones), files read with resources/read and checked
against their digests, as a host would, for each persona."""
import base64
import hashlib

import anyio
import httpx2 as httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, PaginatedRequestParams, Request, RequestParams
from pydantic import TypeAdapter

from audit.models import Action, AuditEvent
from connector.tokens import mint
from marketplace import provenance
from marketplace.models import Plugin, Policy, Skill

from .builders import catalog, plugin_entry, skill_md
from .mcp_client import PROTOCOLS, session

pytestmark = pytest.mark.django_db(transaction=True)

EXTENSION = "io.modelcontextprotocol/skills"
RAW = TypeAdapter(dict)  # the answer as it came over the wire


class GetParams(RequestParams):
    uri: str


def list_request(cursor=None):
    return Request[PaginatedRequestParams, str](method="skills/list", params=PaginatedRequestParams(cursor=cursor))


def get_request(uri):
    return Request[GetParams, str](method="skills/get", params=GetParams(uri=uri))


async def every_entry(client):
    """Page through skills/list as a host builds its registry."""
    entries, cursor = [], None
    while True:
        page = await client.session.send_request(list_request(cursor), RAW)
        assert page["resultType"] == "complete" and page["cacheScope"] == "private" and page["ttlMs"] > 0
        entries += page["skills"]
        if not (cursor := page.get("nextCursor")):
            return entries


async def verified(client, entry):
    """Each file of `entry` read with resources/read and checked as the extension tells hosts to:
    the bytes' SHA-256 and length against the entry's digest and size. {path: bytes}."""
    root = entry["uri"].removesuffix("SKILL.md")
    files = {}
    for resource in entry["resources"]:
        content = (await client.read_resource(resource["uri"])).contents[0]
        data = base64.b64decode(content.blob) if hasattr(content, "blob") else content.text.encode()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == resource["digest"], resource["uri"]
        assert len(data) == resource["size"]
        files[resource["uri"].removeprefix(root)] = data
    return files


def listed(user, protocol="2026-07-28"):
    return session(user, every_entry, protocol=protocol)


def test_the_extension_is_declared_beside_the_tools_and_resources(people):
    discovered = session(people["member"], lambda client: client.session.send_discover("2026-07-28"),
                         protocol="2026-07-28")
    capabilities = discovered["capabilities"]
    assert capabilities["extensions"] == {EXTENSION: {}}  # no directoryRead: entries list every file
    assert "resources" in capabilities and "tools" in capabilities


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_member_lists_what_they_may_see_with_complete_manifests(two_markets, people, protocol):
    entries = {entry["uri"]: entry for entry in listed(people["member"], protocol)}
    assert sorted(entries) == ["skill://acme/ops-kit/csv-cleanup/SKILL.md", "skill://acme/ops-kit/postmortem/SKILL.md",
                               "skill://labs/data-kit/csv-cleanup/SKILL.md"]  # not the core team's runbook
    postmortem = entries["skill://acme/ops-kit/postmortem/SKILL.md"]
    assert postmortem["frontmatter"] == {"name": "postmortem", "description": "Write a blameless incident review."}
    skill = Skill.objects.get(marketplace__slug="acme", slug="postmortem")
    assert postmortem["resources"] == [{key: f[key] for key in ("uri", "digest", "size")}
                                       for f in provenance.manifest(skill)]
    assert [r["uri"] for r in postmortem["resources"]] == [
        "skill://acme/ops-kit/postmortem/SKILL.md", "skill://acme/ops-kit/postmortem/scripts/timeline.py"]
    for entry in entries.values():  # the skill's name is the last part of its path, as the extension requires
        assert entry["uri"].split("/")[-2] == entry["frontmatter"]["name"]
    assert "skill://acme/ops-kit/core-runbook/SKILL.md" in {e["uri"] for e in listed(people["core"], protocol)}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_member_gets_a_skill_and_reads_files_matching_their_digests(make_repo, synced_marketplace, people,
                                                                      protocol):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="kit"),
        "plugins/kit/skills/brand/SKILL.md": skill_md("brand", "Apply the brand.", license="MIT"),
        "plugins/kit/skills/brand/scripts/apply.py": "print('brand')\n",
        "plugins/kit/skills/brand/assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary",
        "plugins/kit/skills/brand/notes/legacy.txt": "caf\xe9 au lait\n".encode("latin-1"),  # text, not UTF-8
    })
    synced_marketplace(repo, slug="acme")

    async def steps(client):
        got = await client.session.send_request(get_request("skill://acme/kit/brand/SKILL.md"), RAW)
        return got, await verified(client, got["skill"])

    got, files = session(people["member"], steps, protocol=protocol)
    assert got["resultType"] == "complete" and got["cacheScope"] == "private" and "nextCursor" not in got
    assert got["skill"]["frontmatter"] == {"name": "brand", "description": "Apply the brand.", "license": "MIT"}
    assert sorted(files) == ["SKILL.md", "assets/logo.png", "notes/legacy.txt", "scripts/apply.py"]
    assert files["notes/legacy.txt"] == "caf\xe9 au lait\n".encode("latin-1")
    reads = AuditEvent.objects.filter(action=Action.SKILL_FILE_READ, skill="brand", actor_login="orla")
    assert sorted(event.extra["path"] for event in reads) == sorted(files)
    assert {event.extra["via"] for event in reads} == {"resource"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_outsider_gets_nothing(two_markets, people, protocol):
    assert listed(people["outsider"], protocol) == []

    async def steps(client):
        refused = []
        for attempt in (client.session.send_request(get_request("skill://acme/ops-kit/postmortem/SKILL.md"), RAW),
                        client.read_resource("skill://acme/ops-kit/postmortem/SKILL.md")):
            with pytest.raises(MCPError) as error:
                await attempt
            refused.append(error.value.error.code)
        return refused

    assert session(people["outsider"], steps, protocol=protocol) == [INVALID_PARAMS, INVALID_PARAMS]
    assert not AuditEvent.objects.filter(action=Action.SKILL_FILE_READ).exists()


@pytest.mark.parametrize("prohibited", ["skill", "plugin"])
def test_a_prohibited_skill_is_neither_listed_nor_got(two_markets, people, prohibited):
    """A host loads what skills/list and skills/get give it: they install, and a prohibited skill installs by no
    route. Its files stay readable, as on its page and with read_skill_file."""
    if prohibited == "skill":
        Skill.objects.filter(slug="postmortem").update(policy=Policy.PROHIBITED, policy_reason="Leaks incident data.")
    else:
        Plugin.objects.filter(name="ops-kit").update(policy=Policy.PROHIBITED, policy_reason="Leaks incident data.")
        # A skill's own policy stands before its plugin's (Skill.stance): this one is still handed out.
        Skill.objects.filter(slug="csv-cleanup", marketplace__slug="acme").update(policy=Policy.REQUIRED)
    uri = "skill://acme/ops-kit/postmortem/SKILL.md"

    async def steps(client):
        with pytest.raises(MCPError) as refused:
            await client.session.send_request(get_request(uri), RAW)
        resources = await client.list_resources()
        return refused.value.error, [r.uri for r in resources.resources], await client.read_resource(uri)

    refused, resources, read = session(people["member"], steps, protocol="2026-07-28")
    assert refused.code == INVALID_PARAMS and "Leaks incident data." in refused.message
    denied = AuditEvent.objects.get(action=Action.ACCESS_DENIED, skill="postmortem")
    assert denied.extra["via"] == "skills/get" and denied.actor_login == "orla"
    assert sorted(entry["uri"] for entry in listed(people["member"])) == [
        "skill://acme/ops-kit/csv-cleanup/SKILL.md", "skill://labs/data-kit/csv-cleanup/SKILL.md"]
    assert not any(r.startswith("skill://acme/ops-kit/postmortem/") for r in resources)
    assert "skill://acme/ops-kit/csv-cleanup/SKILL.md" in resources
    assert "blameless" in read.contents[0].text


@pytest.mark.parametrize("uri", ["skill://acme/ops-kit/post\x00mortem/SKILL.md", "skill://acme/SKILL.md",
                                 "https://acme/ops-kit/postmortem/SKILL.md", "skill://acme/ops-kit/postmortem"])
def test_a_uri_that_names_no_skill_is_invalid_params(two_markets, people, uri):
    async def steps(client):
        with pytest.raises(MCPError) as refused:
            await client.session.send_request(get_request(uri), RAW)
        return refused.value.error

    error = session(people["member"], steps)
    assert error.code == INVALID_PARAMS and error.message


def test_listing_pages_and_refuses_a_cursor_it_never_gave(two_markets, people, monkeypatch):
    monkeypatch.setattr("connector.skills_extension.PAGE", 2)

    async def steps(client):
        first = await client.session.send_request(list_request(), RAW)
        with pytest.raises(MCPError) as bad:
            await client.session.send_request(list_request("not-a-cursor"), RAW)
        return first, await every_entry(client), bad.value

    first, entries, bad = session(people["member"], steps, protocol="2026-07-28")
    assert len(first["skills"]) == 2 and first["nextCursor"]
    assert len({entry["uri"] for entry in entries}) == 3
    assert bad.error.code == INVALID_PARAMS and "cursor" in bad.error.message


def test_a_skill_the_extension_cannot_carry_is_left_out_and_says_why(make_repo, synced_marketplace, people):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("kit"), name="kit"),
        "plugins/kit/skills/fine/SKILL.md": skill_md("fine", "Carried."),
        "plugins/kit/skills/untold/SKILL.md": "---\nname: untold\n---\n\nNo description in the frontmatter.\n",
        "plugins/kit/skills/shouty/SKILL.md": skill_md("Shouty Name", "A name that is not an Agent Skills name."),
        "plugins/kit/skills/colon/SKILL.md": "---\nname: colon\ndescription: Note: repaired\n---\n\nBody.\n",
    })
    synced_marketplace(repo, slug="acme")
    assert [entry["uri"] for entry in listed(people["member"])] == ["skill://acme/kit/fine/SKILL.md"]

    async def steps(client):
        reasons = {}
        for slug in ("untold", "shouty-name", "colon"):
            with pytest.raises(MCPError) as refused:
                await client.session.send_request(get_request(f"skill://acme/kit/{slug}/SKILL.md"), RAW)
            reasons[slug] = (refused.value.error.code, refused.value.error.message)
        return reasons, await client.call_tool("get_skill", {"name": "acme/kit/untold"})

    reasons, tool = session(people["member"], steps)
    assert {code for code, _message in reasons.values()} == {INVALID_PARAMS}
    assert "no description" in reasons["untold"][1] and "get_skill" in reasons["untold"][1]
    assert "'shouty-name'" in reasons["shouty-name"][1]
    assert "not valid YAML as written" in reasons["colon"][1]
    assert not tool.is_error  # the tools still serve it


def test_the_official_client_over_http_loads_a_skill(skillport, two_markets, people):
    """The real /mcp app, the client discovering the revision and the extension as a host would."""
    token = mint(people["member"])

    async def run():
        http = httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
        async with Client(streamable_http_client(f"{skillport.url}/mcp", http_client=http), mode="auto") as client:
            assert client.protocol_version == "2026-07-28" and EXTENSION in client.server_capabilities.extensions
            entries = await every_entry(client)
            entry = (await client.session.send_request(get_request(entries[0]["uri"]), RAW))["skill"]
            return entries, entry, await verified(client, entry)

    entries, entry, files = anyio.run(run)
    assert len(entries) == 3 and entry in entries and "SKILL.md" in files

"""Input Skillport cannot use gets a clear 4xx or tool error, never a 500 or a database error's text:
dates out of the calendar, GitHub sign-in without a GitHub app, JSON nested past the recursion
limit, NUL characters, half a surrogate pair and out-of-range cursors sent to the connector."""
import io
import json

import anyio
import httpx2 as httpx
import pytest
from django.contrib.auth.models import Group
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from connector.tokens import mint
from connector.tools import encode_cursor

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(client, people):
    people["member"].groups.add(Group.objects.get(name="Auditors"))
    client.force_login(people["member"])
    return client


@pytest.mark.parametrize("path", [
    "/audit/?until=0001-01-01", "/audit/?since=0001-01-01&until=0001-12-31", "/audit/export.csv?until=0001-01-01",
    "/audit/users/orla/?until=0001-01-01",
])
def test_audit_dates_out_of_range_are_a_400_naming_the_range(auditor, path):
    response = auditor.get(path)
    assert response.status_code == 400
    assert "greater than or equal to 1970-01-01" in response.content.decode()


def test_api_dates_out_of_range_are_a_400_in_the_api_shape(auditor):
    for path in ["/api/v1/audit-events/?until=0001-01-01", "/api/v1/skills/?updated_since=0001-01-01T00:00:00%2B01:00"]:
        response = auditor.get(path)
        assert response.status_code == 400 and response.json()["detail"].startswith("Invalid "), path


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/accounts/github/login/", "/accounts/github/login/callback/?code=c&state=s"])
def test_github_sign_in_without_a_github_app_is_a_404_saying_so(client, settings, method, path):
    settings.SKILLPORT_GITHUB_CLIENT_ID = ""
    client.raise_request_exception = False
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert "GitHub sign-in is not set up" in response.content.decode()


def test_json_nested_past_the_recursion_limit_is_a_400(client, people):
    client.force_login(people["member"])
    response = client.post("/api/v1/check-updates/", "[" * 5000 + "]" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the body is nested too deeply."}


@pytest.mark.parametrize("path", ["/register", "/oauth/register/", "/webhooks/github/demo", "/api/v1/check-updates/"])
def test_a_form_with_files_where_none_are_taken_is_a_4xx(client, people, make_marketplace, simple_repo, path):
    """Only views that take files read a multipart form as one: the others read their body as bytes."""
    make_marketplace(simple_repo, slug="demo", webhook_secret="s3cret")
    client.force_login(people["member"])
    response = client.post(path, {"file": io.BytesIO(b"PK\x03\x04"), "redirect_uris": "http://127.0.0.1/cb"})
    assert 400 <= response.status_code < 500, response.content


def over_http(server, user, steps):
    """`steps(client)` in an MCP session with the official client over HTTP, as `user`."""
    token = mint(user)

    async def run():
        http = httpx.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=10)
        async with Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as client:
            return await steps(client)
    return anyio.run(run)


NUL = "csv\x00"
# Every tool, with a NUL in each kind of argument it takes.
NUL_CALLS = [
    ("search_skills", {"query": NUL}),
    ("search_skills", {"query": "csv", "cursor": NUL}),
    ("search_skills", {"query": "csv", "filters": {"marketplace": NUL}}),
    ("list_skills", {"filters": {"tag": NUL}}),
    ("get_skill", {"name": NUL}),
    ("read_skill_file", {"name": "acme/ops-kit/postmortem", "path": NUL}),
    ("read_skill_file", {"name": NUL, "path": "SKILL.md"}),
    ("install_skill", {"name": NUL}),
    ("check_updates", {"installed": [{"name": "postmortem", "version": NUL}]}),
    ("check_updates", {"installed": [{"name": NUL, "commit": "a" * 40, "content_hash": NUL}]}),
]


@pytest.mark.django_db(transaction=True)
def test_a_nul_in_any_tool_argument_is_a_tool_error_naming_it(skillport, two_markets, people):
    async def steps(client):
        return [await client.call_tool(tool, arguments) for tool, arguments in NUL_CALLS]

    for (tool, _arguments), result in zip(NUL_CALLS, over_http(skillport, people["member"], steps)):
        assert result.is_error, tool
        assert result.content[0].text.endswith("Requests may not contain NUL characters."), result.content[0].text


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("uri", ["skill://acme/ops-kit/postmortem/SKILL.md%00",
                                 "skill://acme/ops-kit/post%00mortem/SKILL.md"])
def test_a_nul_in_a_resource_read_is_an_error_naming_it(skillport, two_markets, people, uri):
    async def steps(client):
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri)
        return str(refused.value)

    assert "Requests may not contain NUL characters." in over_http(skillport, people["member"], steps)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("offset", [2**63, 2**31 + 1, 10**30])
def test_a_cursor_out_of_range_is_an_error_not_a_database_error(skillport, two_markets, people, offset):
    cursor = encode_cursor(offset)

    async def steps(client):
        searched = await client.call_tool("search_skills", {"query": "csv", "cursor": cursor})
        listed = await client.call_tool("list_skills", {"cursor": cursor})
        with pytest.raises(MCPError) as resources:
            await client.list_resources(cursor=cursor)
        return searched, listed, str(resources.value)

    searched, listed, resources = over_http(skillport, people["member"], steps)
    for message in (searched.content[0].text, listed.content[0].text, resources):
        assert "That cursor is not one this server gave out" in message and "out of range" not in message
    assert searched.is_error and listed.is_error


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("arguments", [{"name": "\\ud800"}, {"name": "acme/ops-kit/\\udfff"}])
def test_half_a_surrogate_pair_in_a_tool_argument_is_a_tool_error_naming_it(skillport, two_markets, people, arguments):
    """JSON may escape half a surrogate pair on its own, and the 2026-07-28 transport reads bodies with Python's json,
    which keeps it: not text, it failed every tool where it was encoded. The official client cannot send one (it
    encodes what it sends), so the request it would send is written out."""
    body = ('{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_skill", "arguments": %s, '
            '"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", '
            '"io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}, '
            '"io.modelcontextprotocol/clientCapabilities": {}}}}') % json.dumps(arguments).replace("\\\\u", "\\u")
    response = httpx.post(f"{skillport.url}/mcp", content=body, timeout=10, headers={
        "authorization": f"Bearer {mint(people['member'])}", "accept": "application/json, text/event-stream",
        "content-type": "application/json", "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
        "mcp-name": "get_skill"})
    result = response.json()["result"]
    assert result["isError"]
    assert result["content"][0]["text"].endswith("Requests may not contain half of a surrogate pair on its own "
                                                 "(an escape from \\ud800 to \\udfff).")

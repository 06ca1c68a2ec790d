"""The MCP server at /mcp: Skillport's tools, skill:// resources and the Skills extension, for the
signed-in user behind a token.

Tools are thin: each runs its `connector.tools` function in a worker thread (the ORM is
synchronous) for the user the bearer token belongs to, and turns a ToolProblem into a tool
error Claude can read. skills/list and skills/get (connector.skills_extension) run the same way. The SDK checks the token, its audience and scope before any of this runs;
our verifier loads the user and the catalogue version with it, so a cached search is answered
on the event loop.
"""
import base64
import binascii
import json
from typing import Annotated
from urllib.parse import unquote, urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import OperationalError, close_old_connections
from django.db.models import Q
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.extension import Extension, MethodBinding
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import (INVALID_PARAMS, CallToolResult, ListResourcesResult, PaginatedRequestParams, Resource,
                       ResourceTemplate, TextContent, ToolAnnotations)
from pydantic import BaseModel, Field, ValidationError

from audit import record
from audit.models import Action, client_surface
from marketplace import lookup, rows
from marketplace.models import Skill, SkillFile, identifier
from skillport_site import timeouts
from skillport_site.middleware import NUL_REFUSED
from skillport_site.throttle import MemberThrottle

from . import proposing, skills_extension, tools
from .arguments import explain
from .verifier import DatabaseTokenVerifier

INSTRUCTIONS = """\
Skillport is this organisation's catalogue of Claude Skills, synced from its Claude Code plugin
marketplaces. Everything you see is filtered to what the signed-in user may see.

- To find a skill, call search_skills with the task in plain words ("clean up CSV exports";
  "exact phrase" and -exclusions work as in a web search); list_skills browses. Results carry a
  full name, marketplace/plugin/skill: use it in every later call, because short names can be
  ambiguous (an ambiguous name returns the choices). An empty result has a hint: follow it.
- Before installing, call get_skill; read bundled scripts with read_skill_file and summarise
  them when the user asks what a skill does.
- To install, call install_skill(name, surface) with the surface you are running in: CC for
  Claude Code, CD for Claude Desktop, CAI for Claude.ai. Relay its steps exactly, and give each
  download link as a link: each works once, for its own step, and expires within minutes. Only
  the user can upload a skill to Claude.ai or Desktop; never say it is installed before they have.
- Respect policy: a prohibited skill cannot be installed; mention discouraged, required and
  recommended policies with their reason.
- To check for updates, call check_updates with the installed names and versions (the version
  is in the package's .claude-plugin/plugin.json); install_ready lists what to reinstall.
- whoami tells which account the connector is signed in as, when something seems missing.
- To share a skill the user wrote with the organisation, call propose_skill (the marketplace,
  a plugin, the skill's name, its files as path and text, a message); propose_removal proposes
  removing one. Each opens a pull request for the marketplace's owners to review: relay the
  link and next_steps, and never say the skill is published. my_proposals follows them.
"""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# An install link is a new, audited record each time, but changes nothing the user has.
ISSUES_LINK = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=False,
                              open_world_hint=False)
# A proposal opens a pull request elsewhere (GitHub) and changes nothing here until it is merged.
PROPOSES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
RESOURCE_PAGE = 200
# JSON-RPC's range for errors a server defines: a protocol request (not a tool call) over the rate.
RATE_LIMITED = -32000


def _caller(ctx: Context | None) -> tools.Caller:
    """Who is calling: the verified token's user, the MCP client's name and version, and its User-Agent."""
    token = get_access_token()
    client_info = getattr(getattr(ctx.session, "client_params", None), "client_info", None) if ctx else None
    if client_info is not None:
        client = (client_info.name or "", client_info.version or "")
    else:
        client = ((token.claims or {}).get("client_name", "") if token else "", "")
    headers = (ctx.headers if ctx else None) or {}
    return tools.Caller(user=getattr(token, "user", None), client=client, user_agent=headers.get("user-agent", ""),
                        catalogue_version=getattr(token, "catalogue_version", None))


def _answer(function, caller, args):
    if caller.user is None:
        raise ToolError("Not signed in: connect Skillport again.")
    if refused := _unreadable(args):
        raise ToolError(refused)
    try:
        return function(caller, *args)
    except tools.ToolProblem as problem:
        raise ToolError(str(problem)) from None
    except OperationalError as error:
        if message := timeouts.overload(error):
            raise ToolError(message) from None
        raise


# JSON may escape half a surrogate pair on its own ("\ud800"), which Python's json keeps (the 2026-07-28 transport reads
# bodies with it): not text, so no query, cache key or answer can encode it.
UNPAIRED_REFUSED = "Requests may not contain half of a surrogate pair on its own (an escape from \\ud800 to \\udfff)."


def _unreadable(value) -> str:
    """Why the strings of a tool's (or resource read's) arguments, however nested, cannot be used: a NUL, which
    PostgreSQL refuses in text, or half a surrogate pair; "" when they can."""
    if isinstance(value, str):
        if "\x00" in value:
            return NUL_REFUSED
        try:
            value.encode()
        except UnicodeEncodeError:
            return UNPAIRED_REFUSED
        return ""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        return next(filter(None, map(_unreadable, value)), "")
    return ""


def _in_thread(function, caller, args):
    close_old_connections()
    try:
        return _answer(function, caller, args)
    finally:
        close_old_connections()


class TooOften(ToolError):
    """The caller is over SKILLPORT_MCP_RATE: a tool error, which Claude reads and relays, or a JSON-RPC error
    (RATE_LIMITED) to a protocol request; both say when to ask again."""

    def __init__(self, retry_after: int):
        super().__init__(f"Skillport takes at most {settings.SKILLPORT_MCP_RATE} requests from one person through "
                         f"the connector; try again in {retry_after} seconds.")
        self.retry_after = retry_after


async def _count(caller):
    """Count one request against its user's SKILLPORT_MCP_RATE, shared by every worker. Any call may be a cold
    search (milliseconds of database work), and a client in a loop, a model retrying say, would otherwise
    take workers from everyone; the REST API has the same allowance. Counted before the cache answers."""
    if caller.user is None:
        return  # _answer refuses it
    throttle = MemberThrottle("mcp", settings.SKILLPORT_MCP_RATE, caller.user.pk)
    if not await throttle.aallow_request(None, None):
        raise TooOften(throttle.wait())


async def _run(ctx, function, *args, cached=None):
    """`function(caller, *args)` in a worker thread, since the ORM is synchronous; first
    `cached(caller, *args)` right here when given, which answers from the cache without the database."""
    caller = _caller(ctx)
    await _count(caller)
    if cached is not None and (answer := _answer(cached, caller, args)) is not None:
        return answer
    return await sync_to_async(_in_thread, thread_sensitive=False)(function, caller, args)


async def _tool(ctx, function, *args, cached=None) -> CallToolResult:
    """A tool's answer as Claude reads it: compact JSON without empty optional fields, the same data in
    both `structuredContent` (what Claude Code shows the model) and the text block (what Claude.ai does)."""
    data = tools.compact(await _run(ctx, function, *args, cached=cached))
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


class SkillportServer(MCPServer):
    """MCPServer whose resources are the calling user's visible skill files, listed page by page, and
    whose argument errors are told in our words (connector.arguments)."""

    async def call_tool(self, name, arguments, context=None):
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            tool = self._tool_manager.get_tool(name)
            if isinstance(error.__cause__, ValidationError) and not isinstance(error, UnexpectedToolError) and tool:
                raise ToolError(explain(name, tool.parameters, arguments, error.__cause__)) from error.__cause__
            raise

    async def _handle_list_resources(self, ctx, params):
        cursor = getattr(params, "cursor", None) if params else None
        return await _protocol_answer(None, _list_resources, cursor)  # a bad cursor: the client's mistake

    async def list_resource_templates(self):
        return [ResourceTemplate(
            uri_template="skill://{marketplace}/{plugin}/{skill}/{path}", name="skill-file",
            title="A file of a skill", description="SKILL.md or any file bundled with a skill you can see.",
        )]

    async def read_resource(self, uri, context=None):
        return await _protocol_answer(context, _read_resource, str(uri), refused=ResourceNotFoundError)


class SkillsExtension(Extension):
    """The Skills extension (connector.skills_extension), answered for the token's user like the tools;
    resources/read serves its files. A bad cursor or an unknown skill is the client's mistake: -32602."""

    identifier = skills_extension.IDENTIFIER

    def methods(self):
        return [MethodBinding("skills/list", PaginatedRequestParams, self.list_skills),
                MethodBinding("skills/get", skills_extension.GetSkillParams, self.get_skill)]

    async def list_skills(self, ctx, params):
        return await _protocol_answer(Context(request_context=ctx), skills_extension.list_skills, params.cursor)

    async def get_skill(self, ctx, params):
        return await _protocol_answer(Context(request_context=ctx), skills_extension.get_skill, params.uri)


def _invalid_params(message):
    return MCPError(code=INVALID_PARAMS, message=message)


async def _protocol_answer(ctx, function, *args, refused=_invalid_params):
    """`function`'s answer to a protocol request (not a tool call): its refusals are JSON-RPC errors, made by
    `refused` from their message (the client's mistake: INVALID_PARAMS unless said otherwise)."""
    try:
        return await _run(ctx, function, *args)
    except TooOften as error:
        raise MCPError(code=RATE_LIMITED, message=str(error), data={"retryAfter": error.retry_after}) from None
    except ToolError as error:
        raise refused(str(error)) from None


def _list_resources(caller, cursor):
    # After the last file of the page before (from the first skill: skill ids are positive), not an offset: each
    # table is read from there (the skills too, which PostgreSQL does not infer from the join), where an offset
    # read and sorted every file and skill before it again.
    skill_id, path = _after(cursor) if cursor else (0, "")
    files = (
        # Less what the organisation prohibits: hosts load skills from this listing too (their files stay readable).
        SkillFile.objects.filter(skill__in=Skill.objects.visible_to(caller.user).handed_out().filter(pk__gte=skill_id),
                                 skill_id__gte=skill_id)
        .filter(Q(skill_id__gt=skill_id) | Q(path__gt=path))
        .order_by("skill_id", "path")
        # What a resource shows, as values: as instances, each file with its skill, plugin and marketplace, a page
        # cost 30 ms of Python, and 0.5 s where plugins keep many files (their content came along).
        .values_list("skill_id", "path", "size", "skill__marketplace__slug", "skill__plugin__name", "skill__slug",
                     "skill__name", "skill__description")
    )
    with rows.planning_each_time():  # prepared, its plan would not know where the page starts
        found = list(files[:RESOURCE_PAGE + 1])
    resources = []
    for _skill_id, file, size, marketplace, plugin, slug, name, description in found[:RESOURCE_PAGE]:
        skill = identifier(marketplace, plugin, slug)
        # SEP-2640 names a SKILL.md resource by its skill's name.
        resources.append(Resource(
            uri=f"skill://{skill}/{file}", name=name if file == "SKILL.md" else f"{skill}/{file}",
            title=f"{slug}: {file}", size=size, mime_type="text/markdown" if file.endswith(".md") else None,
            description=description[:200] if file == "SKILL.md" else None))
    if len(found) <= RESOURCE_PAGE:
        return ListResourcesResult(resources=resources)
    last = found[RESOURCE_PAGE - 1]
    return ListResourcesResult(resources=resources, next_cursor=base64.urlsafe_b64encode(
        json.dumps(["after", last[0], last[1]]).encode()).decode())


def _after(cursor: str) -> tuple[int, str]:
    """(skill id, path) of the last file a resources/list page gave, from its cursor."""
    try:
        kind, skill_id, path = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise tools.ToolProblem(tools.BAD_CURSOR) from None
    if (kind != "after" or type(skill_id) is not int or not 0 < skill_id < 2**63 or not isinstance(path, str)
            or not 0 < len(path) <= SkillFile._meta.get_field("path").max_length or "\0" in path):
        raise tools.ToolProblem(tools.BAD_CURSOR)
    return skill_id, path


def _read_resource(caller, uri):
    parts = urlsplit(uri)
    segments = [unquote(s) for s in f"{parts.netloc}{parts.path}".split("/")]
    if parts.scheme != "skill" or len(segments) < 4:
        raise tools.ToolProblem(f"{uri!r} is not a skill resource: skill://marketplace/plugin/skill/path")
    if refused := _unreadable(segments):  # a %00: _answer saw only the encoded URI
        raise tools.ToolProblem(refused)
    try:
        skill = lookup.find_skill(Skill.objects.visible_to(caller.user), "/".join(segments[:3]))
    except LookupError as error:
        raise tools.ToolProblem(str(error)) from None
    file = SkillFile.objects.filter(skill=skill, path="/".join(segments[3:])).select_related("blob").first()
    if file is None or not file.blob_id or file.omitted:
        raise tools.ToolProblem(f"{uri!r} has no stored content.")
    record(Action.SKILL_FILE_READ, actor=caller.user, target=skill, surface=client_surface(caller.client),
           client=caller.client, extra={"path": file.path, "via": "resource", **caller.audit_extra})
    content = bytes(file.blob.content)
    try:
        # Text only when it is UTF-8 as stored: the bytes a client hashes must be those of the manifest.
        text = None if file.is_binary else content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        return [ReadResourceContents(content=content, mime_type="application/octet-stream")]
    return [ReadResourceContents(content=text, mime_type="text/markdown" if file.path.endswith(".md") else "text/plain")]


def build_server() -> SkillportServer:
    server = SkillportServer(
        name="skillport", title="Skillport", instructions=INSTRUCTIONS, website_url=settings.SKILLPORT_BASE_URL,
        token_verifier=DatabaseTokenVerifier(), extensions=[SkillsExtension()],
        auth=AuthSettings(
            issuer_url=settings.SKILLPORT_BASE_URL, resource_server_url=settings.SKILLPORT_MCP_URL,
            required_scopes=["skills:read"], validate_token_resource=True,
        ),
    )

    @server.tool(title="Search skills", annotations=READ_ONLY, description=(
        "Find skills by what they do: full-text search over names, descriptions and SKILL.md, typo-tolerant. "
        "Each result's `name` is its full name, marketplace/plugin/skill: pass it to get_skill, read_skill_file "
        'and install_skill. Query syntax as in a web search: "exact phrase", -excluded, pdf or docx.'))
    async def search_skills(
        query: tools.Query, ctx: Context, filters: tools.Filters | None = None,
        limit: Annotated[int, Field(description="Skills per page, 1 to 50.")] = tools.SEARCH_PAGE,
        cursor: tools.Cursor = None,
    ) -> Annotated[CallToolResult, tools.SkillPage]:
        return await _tool(ctx, tools.search_skills, query, filters, limit, cursor, cached=tools.cached_search)

    @server.tool(title="List skills", annotations=READ_ONLY, description=(
        "Browse the skills you can see, by name, a page at a time, optionally filtered; to find a skill for a "
        "task, search_skills is quicker. Each `name` is the full name, marketplace/plugin/skill."))
    async def list_skills(
        ctx: Context, filters: tools.Filters | None = None,
        limit: Annotated[int, Field(description="Skills per page, 1 to 50.")] = tools.LIST_PAGE,
        cursor: tools.Cursor = None,
    ) -> Annotated[CallToolResult, tools.SkillPage]:
        return await _tool(ctx, tools.list_skills, filters, limit, cursor, cached=tools.cached_list)

    @server.tool(title="Get a skill", annotations=READ_ONLY)
    async def get_skill(name: tools.SkillName, ctx: Context) -> Annotated[CallToolResult, tools.SkillDetail]:
        """A skill's metadata, policy, compatibility verdicts, security scan, SKILL.md and file list."""
        return await _tool(ctx, tools.get_skill, name)

    @server.tool(title="Read a skill file", annotations=READ_ONLY)
    async def read_skill_file(
        name: tools.SkillName,
        path: Annotated[str, Field(description="The file's path in the skill folder, as get_skill lists it "
                                               "(SKILL.md, scripts/run.py).")],
        ctx: Context,
        offset: Annotated[int, Field(description="Where to start reading: next_offset of the previous part.")] = 0,
    ) -> Annotated[CallToolResult, tools.FileContent]:
        """Read SKILL.md or a bundled file of a skill; long files come in parts (use next_offset)."""
        return await _tool(ctx, tools.read_skill_file, name, path, offset)

    @server.tool(title="Install a skill", annotations=ISSUES_LINK)
    async def install_skill(
        name: tools.SkillName, ctx: Context,
        surface: Annotated[tools.Literal["CC", "CD", "CAI"] | None, Field(description=(
            "Where you are running: CC (Claude Code), CD (Claude Desktop) or CAI (Claude.ai); omit for all."))] = None,
    ) -> Annotated[CallToolResult, tools.InstallSteps]:
        """The exact steps to install a skill where the user is, with one-time download links to its .skill package."""
        return await _tool(ctx, tools.install_skill, name, surface)

    @server.tool(title="Check for updates", annotations=READ_ONLY)
    async def check_updates(
        installed: Annotated[list[tools.Installed], Field(description=(
            "The installed skills or plugins: [{name, version}], the version from the installed "
            ".claude-plugin/plugin.json."))],
        ctx: Context,
    ) -> Annotated[CallToolResult, tools.Updates]:
        """Compare installed skills or plugins (name and version) with the catalogue; install_ready lists what to reinstall."""
        return await _tool(ctx, tools.check_updates, installed)

    @server.tool(title="Who am I", annotations=READ_ONLY)
    async def whoami(ctx: Context) -> Annotated[CallToolResult, tools.Identity]:
        """The account this connector is signed in as, its organisations and teams, and how many skills it sees."""
        return await _tool(ctx, tools.whoami)

    @server.tool(title="Propose a skill", annotations=PROPOSES)
    async def propose_skill(
        marketplace: proposing.MarketplaceSlug, plugin: proposing.PluginName, skill: proposing.SkillName,
        files: proposing.Files, message: proposing.Message, ctx: Context,
        deleted: Annotated[list[str] | None, Field(description=(
            "For an existing skill: paths of files to delete from its folder."))] = None,
    ) -> Annotated[CallToolResult, proposing.ProposalAnswer]:
        """Propose a new skill, or a change to one, as a pull request to the marketplace's repository. It is
        checked first as a sync would check it; problems come back as an error and nothing is sent."""
        return await _tool(ctx, proposing.propose_skill, marketplace, plugin, skill, files, message, deleted)

    @server.tool(title="Propose removing a skill", annotations=PROPOSES)
    async def propose_removal(
        marketplace: proposing.MarketplaceSlug, plugin: proposing.PluginName, skill: proposing.SkillName,
        message: proposing.Message, ctx: Context,
    ) -> Annotated[CallToolResult, proposing.ProposalAnswer]:
        """Propose removing a skill's folder, as a pull request (the plugin and its catalogue entry stay)."""
        return await _tool(ctx, proposing.propose_removal, marketplace, plugin, skill, message)

    @server.tool(title="My proposals", annotations=READ_ONLY)
    async def my_proposals(ctx: Context) -> Annotated[CallToolResult, proposing.ProposalList]:
        """Your proposals, newest first, each with its pull request and state (open, merged or closed)."""
        return await _tool(ctx, proposing.my_proposals)

    return server


def build_app():
    """A fresh ASGI app for /mcp: stateless, JSON responses, hosts and origins from settings."""
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=bool(settings.SKILLPORT_MCP_ALLOWED_HOSTS),
        allowed_hosts=settings.SKILLPORT_MCP_ALLOWED_HOSTS, allowed_origins=settings.SKILLPORT_MCP_ALLOWED_ORIGINS,
    )
    app = build_server().streamable_http_app(json_response=True, stateless_http=True, transport_security=security)
    app.add_middleware(timeouts.DatabaseOverloadASGI)  # outside the SDK's token check
    return app

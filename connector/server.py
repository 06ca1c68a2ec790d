"""The MCP server at /mcp: Skillport's tools and skill:// resources, for the signed-in user behind a token.

Tools are thin: each runs its `connector.tools` function in a worker thread (the ORM is
synchronous) for the user the bearer token belongs to, and turns a ToolProblem into a tool
error Claude can read. The SDK checks the token, its audience and scope before any of this runs;
our verifier loads the user and the catalogue version with it, so a cached search is answered
on the event loop.
"""
from urllib.parse import unquote, urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import OperationalError, close_old_connections
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ListResourcesResult, Resource, ResourceTemplate, ToolAnnotations
from pydantic import BaseModel

from audit import record
from audit.models import Action
from marketplace import lookup
from marketplace.models import Skill, SkillFile
from skillport_site import timeouts
from skillport_site.middleware import NUL_REFUSED

from . import tools
from .tokens import DatabaseTokenVerifier

INSTRUCTIONS = """\
Skillport is this organisation's catalogue of Claude Skills, synced from its Claude Code plugin
marketplaces. Everything you see is filtered to what the signed-in user may see.

- To find a skill, call search_skills with the task in plain words ("clean up CSV exports");
  list_skills browses. Results carry a full name, marketplace/plugin/skill: use it in every
  later call, because short names can be ambiguous (an ambiguous name returns the choices).
- Before installing, call get_skill; read bundled scripts with read_skill_file and summarise
  them when the user asks what a skill does.
- To install, call install_skill(name, surface) with the surface you are running in: CC for
  Claude Code, CD for Claude Desktop, CAI for Claude.ai. Relay its steps exactly, and give the
  download link as a link: it works once and expires within minutes. Only the user can upload
  a skill to Claude.ai or Desktop; never say it is installed before they have.
- Respect policy: a prohibited skill cannot be installed; mention discouraged, required and
  recommended policies with their reason.
- To check for updates, call check_updates with the installed names and versions (the version
  is in the package's .claude-plugin/plugin.json); install_ready lists what to reinstall.
- whoami tells which account the connector is signed in as, when something seems missing.
"""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# An install link is a new, audited record each time, but changes nothing the user has.
ISSUES_LINK = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=False,
                              open_world_hint=False)
RESOURCE_PAGE = 200


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
    if _holds_nul(args):
        raise ToolError(NUL_REFUSED)  # PostgreSQL refuses NUL in text: a DataError, had it reached a query
    try:
        return function(caller, *args)
    except tools.ToolProblem as problem:
        raise ToolError(str(problem)) from None
    except OperationalError as error:
        if message := timeouts.overload(error):
            raise ToolError(message) from None
        raise


def _holds_nul(value) -> bool:
    """Whether any string in a tool's (or resource read's) arguments, however nested, has a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(item) for item in value)
    return False


def _in_thread(function, caller, args):
    close_old_connections()
    try:
        return _answer(function, caller, args)
    finally:
        close_old_connections()


async def _run(ctx, function, *args, cached=None):
    """`function(caller, *args)` in a worker thread, since the ORM is synchronous; first
    `cached(caller, *args)` right here when given, which answers from the cache without the database."""
    caller = _caller(ctx)
    if cached is not None and (answer := _answer(cached, caller, args)) is not None:
        return answer
    return await sync_to_async(_in_thread, thread_sensitive=False)(function, caller, args)


class SkillportServer(MCPServer):
    """MCPServer whose resources are the calling user's visible skill files, listed page by page."""

    async def _handle_list_resources(self, ctx, params):
        cursor = getattr(params, "cursor", None) if params else None
        try:
            return await _run(None, _list_resources, cursor)
        except ToolError as error:  # a bad cursor: the client's mistake, not an internal error
            raise MCPError(code=INVALID_PARAMS, message=str(error)) from None

    async def list_resource_templates(self):
        return [ResourceTemplate(
            uri_template="skill://{marketplace}/{plugin}/{skill}/{path}", name="skill-file",
            title="A file of a skill", description="SKILL.md or any file bundled with a skill you can see.",
        )]

    async def read_resource(self, uri, context=None):
        try:
            return await _run(context, _read_resource, str(uri))
        except ToolError as error:
            raise ResourceNotFoundError(str(error)) from None


def _list_resources(caller, cursor):
    offset = tools.decode_cursor(cursor) if cursor else 0
    files = list(
        SkillFile.objects.filter(skill__in=Skill.objects.visible_to(caller.user))
        .select_related("skill__plugin", "skill__marketplace")
        .order_by("skill_id", "path")[offset:offset + RESOURCE_PAGE + 1]
    )
    resources = [
        Resource(uri=f"skill://{f.skill.identifier}/{f.path}", name=f"{f.skill.identifier}/{f.path}",
                 title=f"{f.skill.slug}: {f.path}", size=f.size,
                 mime_type="text/markdown" if f.path.endswith(".md") else None,
                 description=f.skill.description[:200] if f.path == "SKILL.md" else None)
        for f in files[:RESOURCE_PAGE]
    ]
    more = len(files) > RESOURCE_PAGE
    return ListResourcesResult(resources=resources, next_cursor=tools.encode_cursor(offset + RESOURCE_PAGE) if more else None)


def _read_resource(caller, uri):
    parts = urlsplit(uri)
    segments = [unquote(s) for s in f"{parts.netloc}{parts.path}".split("/")]
    if parts.scheme != "skill" or len(segments) < 4:
        raise tools.ToolProblem(f"{uri!r} is not a skill resource: skill://marketplace/plugin/skill/path")
    if _holds_nul(segments):  # a %00: _answer saw only the encoded URI
        raise tools.ToolProblem(NUL_REFUSED)
    try:
        skill = lookup.find_skill(Skill.objects.visible_to(caller.user), "/".join(segments[:3]))
    except LookupError as error:
        raise tools.ToolProblem(str(error)) from None
    file = SkillFile.objects.filter(skill=skill, path="/".join(segments[3:])).select_related("blob").first()
    if file is None or not file.blob_id or file.omitted:
        raise tools.ToolProblem(f"{uri!r} has no stored content.")
    record(Action.SKILL_FILE_READ, actor=caller.user, target=skill, client=caller.client,
           extra={"path": file.path, "via": "resource", **caller.audit_extra})
    content = bytes(file.blob.content)
    if file.is_binary:
        return [ReadResourceContents(content=content, mime_type="application/octet-stream")]
    return [ReadResourceContents(content=content.decode("utf-8", "replace"),
                                 mime_type="text/markdown" if file.path.endswith(".md") else "text/plain")]


def build_server() -> SkillportServer:
    server = SkillportServer(
        name="skillport", title="Skillport", instructions=INSTRUCTIONS, website_url=settings.SKILLPORT_BASE_URL,
        token_verifier=DatabaseTokenVerifier(),
        auth=AuthSettings(
            issuer_url=settings.SKILLPORT_BASE_URL, resource_server_url=settings.SKILLPORT_MCP_URL,
            required_scopes=["skills:read"], validate_token_resource=True,
        ),
    )

    @server.tool(title="Search skills", annotations=READ_ONLY)
    async def search_skills(
        query: str, ctx: Context, filters: tools.Filters | None = None, limit: int = 10, cursor: str | None = None,
    ) -> tools.SkillPage:
        """Find skills by what they do (full-text, typo-tolerant). Returns full names to use in other tools."""
        return await _run(ctx, tools.search_skills, query, filters, limit, cursor, cached=tools.cached_search)

    @server.tool(title="List skills", annotations=READ_ONLY)
    async def list_skills(
        ctx: Context, filters: tools.Filters | None = None, limit: int = 20, cursor: str | None = None,
    ) -> tools.SkillPage:
        """Browse the skills you can see, by name, optionally filtered."""
        return await _run(ctx, tools.list_skills, filters, limit, cursor, cached=tools.cached_list)

    @server.tool(title="Get a skill", annotations=READ_ONLY)
    async def get_skill(name: str, ctx: Context) -> tools.SkillDetail:
        """A skill's metadata, policy, compatibility verdicts, SKILL.md and file list."""
        return await _run(ctx, tools.get_skill, name)

    @server.tool(title="Read a skill file", annotations=READ_ONLY)
    async def read_skill_file(name: str, path: str, ctx: Context, offset: int = 0) -> tools.FileContent:
        """Read SKILL.md or a bundled file of a skill; long files come in parts (use next_offset)."""
        return await _run(ctx, tools.read_skill_file, name, path, offset)

    @server.tool(title="Install a skill", annotations=ISSUES_LINK)
    async def install_skill(
        name: str, ctx: Context, surface: tools.Literal["CC", "CD", "CAI"] | None = None,
    ) -> tools.InstallSteps:
        """A one-time download link for the skill's .skill package, and the exact install steps.

        surface: CC (Claude Code), CD (Claude Desktop) or CAI (Claude.ai); omit for all.
        """
        return await _run(ctx, tools.install_skill, name, surface)

    @server.tool(title="Check for updates", annotations=READ_ONLY)
    async def check_updates(installed: list[tools.Installed], ctx: Context) -> tools.Updates:
        """Compare installed skills or plugins (name and version) with the catalogue."""
        return await _run(ctx, tools.check_updates, installed)

    @server.tool(title="Who am I", annotations=READ_ONLY)
    async def whoami(ctx: Context) -> tools.Identity:
        """The account this connector is signed in as, its organisations and teams."""
        return await _run(ctx, tools.whoami)

    return server


def build_app():
    """A fresh ASGI app for /mcp: stateless, JSON responses, hosts and origins from settings."""
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=bool(settings.SKILLPORT_MCP_ALLOWED_HOSTS),
        allowed_hosts=settings.SKILLPORT_MCP_ALLOWED_HOSTS, allowed_origins=settings.SKILLPORT_MCP_ALLOWED_ORIGINS,
    )
    return build_server().streamable_http_app(json_response=True, stateless_http=True, transport_security=security)

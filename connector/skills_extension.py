"""The MCP Skills extension (SEP-2640, `io.modelcontextprotocol/skills`): skills/list and skills/get, as
plain functions of a caller; connector.server binds them beside the tools.

Clients that speak the extension load skills directly, without the tools: an entry is the URI of a
skill's SKILL.md, its frontmatter as written, and the complete manifest of its files with their
digests (marketplace.provenance, which keeps manifests in this shape), and the files are read with
resources/read of their skill:// URIs (connector.server, which audits each read). Everything is
filtered by `visible_to(caller.user)`, as on every surface. A skill the organisation prohibits is never
listed, and skills/get refuses it, audited (marketplace.policy): a host loads what these give it, so they
install as install_skill does.

A skill is served here only as the extension defines one, since a host checks each entry against
what it reads and refuses a skill that differs:

1. The last part of the URI, the skill's slug, is its frontmatter `name`, an Agent Skills name.
2. The frontmatter has a `description`, and is the YAML as written: one Skillport had to repair
   (or could not read) would not match the host's own reading of SKILL.md.
3. SKILL.md is among its stored files; it has at most 512 files and 16 MiB.

The tools still serve every skill; skills/get says why one is not served here.
"""
from mcp_types import CacheableResult, PaginatedResult, RequestParams
from pydantic import BaseModel

from audit.models import client_surface
from marketplace import lookup, policy, provenance
from marketplace.models import Skill
from marketplace.verdicts import SPEC_NAME

from .tools import Caller, ToolProblem, decode_cursor, encode_cursor

IDENTIFIER = "io.modelcontextprotocol/skills"
PAGE = 50  # entries carry whole manifests (up to 512 files each): fewer than a page of summaries
MAX_FILES, MAX_BYTES = 512, 16 * 1024 * 1024  # the extension's limits per skill
# Entries change with a sync or a change of the caller's teams; a minute of staleness is harmless,
# since a host checks every file it reads against its entry's digests.
TTL_MS = 60_000


class SkillResource(BaseModel):
    uri: str
    digest: str
    size: int


class SkillEntry(BaseModel):
    uri: str
    frontmatter: dict
    resources: list[SkillResource]


class GetSkillParams(RequestParams):
    uri: str


class ListSkillsResult(PaginatedResult, CacheableResult):
    skills: list[SkillEntry]
    result_type: str = "complete"


class GetSkillResult(CacheableResult):
    skill: SkillEntry
    result_type: str = "complete"


def list_skills(caller: Caller, cursor: str | None) -> ListSkillsResult:
    """A page of entries for the skills `caller` may see, by id; those the extension cannot carry are left
    out of it (a partial listing is allowed), so a page may hold fewer than PAGE."""
    offset = decode_cursor(cursor)
    skills = list(_visible(caller).handed_out().order_by("pk")[offset:offset + PAGE + 1])
    files = provenance.served(*(skill.pk for skill in skills[:PAGE]))
    entries = [_entry(skill, files[skill.pk]) for skill in skills[:PAGE] if not _refusal(skill, files[skill.pk])]
    more = len(skills) > PAGE
    return ListSkillsResult(skills=entries, next_cursor=encode_cursor(offset + PAGE) if more else None,
                            ttl_ms=TTL_MS, cache_scope="private")


def get_skill(caller: Caller, uri: str) -> GetSkillResult:
    """The entry of the skill whose SKILL.md is at `uri`; ToolProblem (the extension's -32602) when `caller`
    sees no such skill, or it is one the extension cannot carry, saying why."""
    name = uri.removeprefix("skill://").removesuffix("/SKILL.md")
    if not uri.startswith("skill://") or not uri.endswith("/SKILL.md") or name.count("/") != 2:
        raise ToolProblem(f"No skill is served at {uri}: skills are at skill://marketplace/plugin/skill/SKILL.md.")
    try:
        skill = lookup.find_skill(_visible(caller), name)
    except LookupError:
        raise ToolProblem(f"No skill is served at {uri}.") from None
    if refused := policy.refusal(skill, actor=caller.user, surface=client_surface(caller.client), client=caller.client,
                                 extra={"via": "skills/get", **caller.audit_extra}):
        raise ToolProblem(refused)
    files = provenance.served(skill.pk)[skill.pk]
    if refusal := _refusal(skill, files):
        raise ToolProblem(f"{skill.identifier} is not served as an Agent Skill here: {refusal}. The tools "
                          "(get_skill, read_skill_file) still serve it.")
    return GetSkillResult(skill=_entry(skill, files), ttl_ms=TTL_MS, cache_scope="private")


def _visible(caller):
    return Skill.objects.visible_to(caller.user).select_related("plugin", "marketplace").only(
        "slug", "frontmatter", "problems", "policy", "policy_reason", "plugin__name", "plugin__policy",
        "plugin__policy_reason", "plugin__version", "plugin__commit", "marketplace__slug")


def _entry(skill, files) -> SkillEntry:
    return SkillEntry(
        uri=provenance.uri(skill, "SKILL.md"), frontmatter=skill.frontmatter,
        resources=[SkillResource(uri=provenance.uri(skill, path), digest=provenance.PREFIX + sha256, size=size)
                   for path, size, sha256 in files],
    )


def _refusal(skill, files) -> str:
    """Why the extension cannot carry `skill` (its rules 1 to 3 above), or "" when it can."""
    name, description = skill.frontmatter.get("name"), skill.frontmatter.get("description")
    if not isinstance(name, str) or name != skill.slug or not SPEC_NAME.match(name):
        return f"its frontmatter name must be {skill.slug!r}, the last part of its URI"
    if not isinstance(description, str) or not description.strip():
        return "its frontmatter has no description"
    if any(str(problem.get("code", "")).startswith("frontmatter-") for problem in skill.problems or []):
        return "its frontmatter is not valid YAML as written"
    if not any(path == "SKILL.md" for path, _size, _sha256 in files):
        return "its SKILL.md is not stored"
    if len(files) > MAX_FILES or sum(size for _path, size, _sha256 in files) > MAX_BYTES:
        return f"it has over {MAX_FILES} files or {MAX_BYTES // 2**20} MiB"
    return ""

"""What the connector's tools do, as plain functions of a caller: the MCP server only adapts them.

Every function reaches skills through `visible_to(caller.user)`, and raises ToolProblem with a
message meant for Claude (and the person it is helping) when an argument is wrong.
"""
import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ValidationError
from pydantic import BaseModel, Field

from audit import record
from audit.models import Action, Surface, client_surface
from marketplace import caching, install, lookup, provenance, scans, updates
from marketplace.filters import SkillFilter
from marketplace.search import SORTS, search, validate_query
from marketplace.models import Policy, Skill, SkillFile
from marketplace.verdicts import Verdict as VerdictFlag
from skillport_site.links import absolute_url

from . import package_links

# Claude shows about 150,000 characters of a tool result; stay well inside it.
MAX_TEXT = 100_000
MAX_DESCRIPTION = 600
# Manifest entries get_skill lists (a skill may have 512 files; the digest covers them all).
MAX_MANIFEST = 200
# Findings get_skill lists, most severe first; the skill page lists them all.
MAX_FINDINGS = 10
# What a result line needs; bodies, frontmatter and manifests stay in the database.
SUMMARY_FIELDS = [
    "name", "display_name_override", "slug", "description", "policy", "policy_reason", "loads_in_claude_code",
    "claude_ai_uploadable", "updated_at", "pending_revision", "plugin__name", "plugin__version", "plugin__commit",
    "plugin__approved_commit", "plugin__policy", "plugin__policy_reason", "marketplace__slug",
]
SURFACES = {"CC": Surface.CLAUDE_CODE, "CD": Surface.CLAUDE_DESKTOP, "CAI": Surface.CLAUDE_AI}
# Cursors are offsets into what the caller sees: none we give out comes near this, and anything
# past PostgreSQL's bigint would fail in the query ("bigint out of range") instead of here.
MAX_OFFSET = 2**31


class ToolProblem(Exception):
    """A bad argument or a refusal: reported to the client as a tool error, never a crash."""


@dataclass
class Caller:
    user: object
    client: tuple[str, str] = ("", "")  # the MCP client's (name, version)
    user_agent: str = ""
    catalogue_version: int | None = None  # read with the token; keys cached answers (marketplace.caching)

    @property
    def audit_extra(self):
        return {"user_agent": self.user_agent[:300]} if self.user_agent else {}


class Filters(BaseModel):
    marketplace: str | None = Field(None, description="Marketplace slug.")
    plugin: str | None = Field(None, description="Plugin name.")
    category: str | None = None
    tag: str | None = None
    surface: Literal["claude_code", "claude_ai", "claude_desktop"] | None = Field(
        None, description="Only skills offered for this Claude surface."
    )
    verdicts: list[Literal[tuple(VerdictFlag.values)]] = Field(
        default_factory=list, description="Only skills that pass all of these checks."
    )


class SkillSummary(BaseModel):
    name: str = Field(description="The full name, marketplace/plugin/skill: unique, accepted by every tool.")
    short_name: str
    title: str = Field(description="What to call it when talking to people; an admin may have set it.")
    description: str
    plugin: str
    marketplace: str
    version: str
    policy: str = Field(description="The organisation's policy: required, recommended, discouraged, prohibited or empty.")
    policy_reason: str
    loads_in_claude_code: bool
    claude_ai_uploadable: bool
    updated_at: str
    url: str


class SkillPage(BaseModel):
    skills: list[SkillSummary]
    total: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class FileEntry(BaseModel):
    path: str
    size: int
    binary: bool
    readable: bool = Field(description="False when the content was not stored (too large, LFS, ...).")


class Verdict(BaseModel):
    check: str
    passed: bool
    reasons: list[str]


class ScanFinding(BaseModel):
    rule: str
    severity: str = Field(description="info, low, medium, high or critical.")
    file: str = Field(description="Relative to the skill folder; empty when about no one file.")
    line: int | None
    message: str


class SecurityScan(BaseModel):
    state: Literal["off", "unavailable", "pending", "scanned"] = Field(
        description="off: the marketplace does not scan; unavailable: no scanner installed; pending: not scanned yet.")
    passed: bool = Field(description="Scanned, and nothing found reaches the marketplace's threshold.")
    severity: str = Field(description="The highest found: none when nothing was, empty until scanned.")
    scanned_at: str | None
    scanners: list[str]
    findings: list[ScanFinding] = Field(description=f"The {MAX_FINDINGS} most severe; the skill's page has them all.")
    findings_total: int


class ManifestFile(BaseModel):
    path: str
    uri: str = Field(description="The file's skill:// resource.")
    digest: str = Field(description="sha256:<hex> of its bytes.")
    size: int


class Provenance(BaseModel):
    digest: str = Field(description="sha256:<hex> of the lines `sha256sum` prints for the files, sorted by path: "
                                    "compare it with an installed copy's.")
    files: list[ManifestFile] = Field(description=f"The first {MAX_MANIFEST} files served, by path (SEP-2640's "
                                                  "`resources`); the skill's page and the API list them all.")
    files_total: int


class SkillDetail(SkillSummary):
    frontmatter: dict
    surfaces: list[str] = Field(description="Surfaces the plugin is offered for; empty means all.")
    verdicts: list[Verdict]
    security_scan: SecurityScan = Field(description="The security scan of the content you are served.")
    skill_md: str
    skill_md_truncated: bool
    files: list[FileEntry]
    provenance: Provenance


class FileContent(BaseModel):
    name: str
    path: str
    size: int
    text: str | None = Field(None, description="The text, from `offset`; null for binary files.")
    offset: int = 0
    next_offset: int | None = Field(None, description="Call again with this offset for the rest; null at the end.")
    note: str = ""


class InstallSteps(BaseModel):
    skill: str
    surface: str
    download_url: str | None = Field(None, description="One-time link to the .skill package; expires soon.")
    expires_at: str | None = None
    claude_code_commands: list[str]
    steps: dict[str, list[str]] = Field(description="Steps per surface (CC, CD, CAI).")
    policy_note: str = ""


class Installed(BaseModel):
    name: str = Field(description="A skill or plugin name, short or full (marketplace/plugin/skill).")
    version: str | None = Field(None, description="The installed version (plugin.json `version`).")
    commit: str | None = None
    content_hash: str | None = None


class UpdateResult(BaseModel):
    name: str | None
    status: Literal["up_to_date", "update_available", "unknown_version", "not_found", "ambiguous"]
    skill: str | None = None
    installed_version: str | None = None
    current_version: str | None = None
    commit: str | None = None
    updated_at: str | None = None
    choices: list[str] = Field(default_factory=list)
    message: str = ""


class Updates(BaseModel):
    results: list[UpdateResult]
    install_ready: list[str] = Field(description="Full names to pass to install_skill, one per outdated skill.")


class Identity(BaseModel):
    username: str
    github_login: str | None
    github_id: int | None
    organisations: list[str]
    teams: list[str]
    visible_skills: int
    client: str


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ToolProblem("That cursor is not one this server gave out; start again without a cursor.") from None
    if kind != "o" or not 0 <= offset <= MAX_OFFSET:
        raise ToolProblem("That cursor is not one this server gave out; start again without a cursor.")
    return offset


def _summary(skill) -> SkillSummary:
    policy, reason = skill.stance
    description = skill.description
    if len(description) > MAX_DESCRIPTION:
        description = description[:MAX_DESCRIPTION].rstrip() + "…"
    return SkillSummary(
        name=skill.identifier, short_name=skill.slug, title=skill.title, description=description,
        plugin=skill.plugin.name, marketplace=skill.marketplace.slug, version=updates.served(skill)[0],
        policy=policy, policy_reason=reason,
        loads_in_claude_code=skill.loads_in_claude_code, claude_ai_uploadable=skill.claude_ai_uploadable,
        updated_at=skill.updated_at.isoformat(),
        url=absolute_url(skill.get_absolute_url()),
    )


def _visible(caller):
    return Skill.objects.visible_to(caller.user).select_related("plugin", "marketplace")


def _arguments(query, filters, limit, cursor):
    if not 1 <= limit <= 50:
        raise ToolProblem("limit must be between 1 and 50.")
    filters = filters if filters is not None and filters.model_dump(exclude_defaults=True) else None
    return query, filters, limit, decode_cursor(cursor)


def _key(query, filters, limit, offset):
    # The same search by anyone who sees the same catalogue gives the same page: cached per
    # catalogue version and visibility (marketplace.caching), so no page reaches another viewer.
    return "connector.search", query, filters.model_dump_json() if filters else "", limit, offset


def _page(caller, *arguments) -> SkillPage:
    arguments = _arguments(*arguments)
    return caching.get_or_set(caller, lambda: _compute_page(caller, *arguments), *_key(*arguments))


def _cached_page(caller, *arguments) -> SkillPage | None:
    return caching.peek(caller, *_key(*_arguments(*arguments)))


def _compute_page(caller, query, filters, limit, offset) -> SkillPage:
    found = search(_visible(caller), query, headlines=False)
    if filters is not None:
        found = _filtered(caller, found, filters)
    found = found.order_by(*SORTS["relevance" if query else "name"]).only(*SUMMARY_FIELDS)
    total = found.count()
    skills = list(found[offset:offset + limit])
    return SkillPage(skills=[_summary(s) for s in skills], total=total,
                     next_cursor=encode_cursor(offset + limit) if offset + limit < total else None)


def _filtered(caller, queryset, filters):
    """The catalogue's own filters, validated against what the caller can see."""
    data = {"marketplace": filters.marketplace or "", "plugin": filters.plugin or "", "category": filters.category or "",
            "tag": filters.tag or "", "surface": filters.surface or "", "verdict": filters.verdicts, "sort": "name"}
    found = SkillFilter(data, queryset=queryset, request=caller)
    if not found.form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in found.form.errors.items())
        raise ToolProblem(f"Bad filters ({problems}). Filter values must name something you can see.")
    return found.filter_queryset(queryset)


def _searched(query):
    if not query or not query.strip():
        raise ToolProblem("query is empty: describe the task, e.g. 'clean up CSV exports'. To browse, use list_skills.")
    try:
        validate_query(query)
    except ValidationError as error:
        raise ToolProblem(error.messages[0]) from None
    return query


def search_skills(caller, query: str, filters=None, limit=10, cursor=None) -> SkillPage:
    return _page(caller, _searched(query), filters, limit, cursor)


def cached_search(caller, query: str, filters=None, limit=10, cursor=None) -> SkillPage | None:
    """search_skills's answer when it is cached, else None. It queries nothing (marketplace.caching.peek)."""
    return _cached_page(caller, _searched(query), filters, limit, cursor)


def list_skills(caller, filters=None, limit=20, cursor=None) -> SkillPage:
    return _page(caller, "", filters, limit, cursor)


def cached_list(caller, filters=None, limit=20, cursor=None) -> SkillPage | None:
    """list_skills's answer when it is cached, else None."""
    return _cached_page(caller, "", filters, limit, cursor)


def _find(caller, name) -> Skill:
    try:
        return lookup.find_skill(_visible(caller), name)
    except LookupError as error:
        raise ToolProblem(str(error)) from None


def get_skill(caller, name: str) -> SkillDetail:
    skill = _find(caller, name)
    skill_md = SkillFile.objects.filter(skill=skill, path="SKILL.md").select_related("blob").first()
    text = _text(skill_md) if skill_md else skill.body
    files = [
        FileEntry(path=f.path, size=f.size, binary=f.is_binary, readable=bool(f.blob_id) and not f.omitted)
        for f in skill.files.order_by("path")[:1000]
    ]
    verdicts = [Verdict(check=label, passed=passed, reasons=reasons)
                for label, passed, reasons in skill.verdicts()]
    return SkillDetail(
        **_summary(skill).model_dump(), frontmatter=skill.frontmatter, surfaces=skill.plugin.surfaces,
        verdicts=verdicts, security_scan=_security_scan(skill), skill_md=text[:MAX_TEXT],
        skill_md_truncated=len(text) > MAX_TEXT, files=files,
        provenance=_provenance(skill),
    )


def _security_scan(skill) -> SecurityScan:
    report = scans.report(skill.content_hash, skill.marketplace)
    findings = report.judgement.findings
    return SecurityScan(
        state=report.state, passed=report.passed, severity=report.judgement.severity,
        scanned_at=report.scanned_at.isoformat() if report.scanned_at else None, scanners=report.scanners,
        findings=[ScanFinding(**finding) for finding in findings[:MAX_FINDINGS]], findings_total=len(findings),
    )


def _provenance(skill) -> Provenance:
    found = provenance.of(skill)
    return Provenance(digest=found["digest"], files=found["files"][:MAX_MANIFEST], files_total=len(found["files"]))


def _text(file) -> str:
    return bytes(file.blob.content).decode("utf-8", "replace") if file.blob_id else ""


def read_skill_file(caller, name: str, path: str, offset: int = 0) -> FileContent:
    skill = _find(caller, name)
    file = SkillFile.objects.filter(skill=skill, path=path.strip().lstrip("/")).select_related("blob").first()
    if file is None:
        raise ToolProblem(f"{skill.identifier} has no file {path!r}; get_skill lists its files.")
    if offset < 0:
        raise ToolProblem("offset must be 0 or more.")
    result = FileContent(name=skill.identifier, path=file.path, size=file.size, offset=offset)
    if file.omitted or not file.blob_id:
        result.note = f"The content was not stored ({file.omitted or 'unavailable'}); it is in the .skill package."
    elif file.is_binary:
        result.note = "A binary file: install the skill to get it."
    else:
        text = _text(file)
        result.text = text[offset:offset + MAX_TEXT]
        if offset + MAX_TEXT < len(text):
            result.next_offset = offset + MAX_TEXT
    record(Action.SKILL_FILE_READ, actor=caller.user, target=skill, surface=client_surface(caller.client),
           client=caller.client, extra={"path": file.path, **caller.audit_extra})
    return result


def install_skill(caller, name: str, surface=None) -> InstallSteps:
    skill = _find(caller, name)
    audit_surface = SURFACES.get(surface, Surface.UNKNOWN)
    try:
        url, link = package_links.issue(skill, caller.user, surface=audit_surface, client=caller.client,
                                        extra=caller.audit_extra)
    except package_links.Refused as refused:
        raise ToolProblem(str(refused)) from None
    policy, reason = skill.stance
    cc = install.claude_code_route(skill.plugin, caller.user)
    steps = install.steps(skill, caller.user, download_url=url)
    if surface in steps:
        steps = {surface: steps[surface]}
    note = {
        Policy.DISCOURAGED: f"Your organisation discourages this skill: {reason}",
        Policy.REQUIRED: f"Your organisation requires this skill: {reason}",
        Policy.RECOMMENDED: f"Your organisation recommends this skill: {reason}",
    }.get(policy, "")
    return InstallSteps(
        skill=skill.identifier, surface=surface or "any", download_url=url, expires_at=link.expires_at.isoformat(),
        claude_code_commands=cc, steps=steps, policy_note=note.rstrip(": "),
    )


def check_updates(caller, installed) -> Updates:
    if not installed:
        raise ToolProblem("installed is empty: pass [{name, version}] for each installed skill or plugin.")
    if len(installed) > 200:
        raise ToolProblem("Check at most 200 skills at a time.")
    results = updates.check(caller.user, [item.model_dump() for item in installed])
    return Updates(results=[UpdateResult(**r) for r in results], install_ready=updates.install_ready(results))


def whoami(caller) -> Identity:
    user = caller.user
    identity = getattr(user, "github", None)  # None for a local account
    return Identity(
        username=user.get_username(), github_login=identity.login if identity else None,
        github_id=identity.github_id if identity else None, organisations=identity.orgs if identity else [],
        teams=identity.teams if identity else [], visible_skills=Skill.objects.visible_to(user).count(),
        client=" ".join(part for part in caller.client if part),
    )

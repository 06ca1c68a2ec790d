"""What the connector's tools do, as plain functions of a caller: the MCP server only adapts them.

Every function reaches skills through `visible_to(caller.user)`, and raises ToolProblem with a
message meant for Claude (and the person it is helping) when an argument is wrong. Results are
models whose optional fields have empty defaults: `compact` leaves those out when empty, so
Claude reads no `"policy": ""` lines, and an empty answer carries a `hint` saying what to try.
"""
import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from pydantic import BaseModel, Field

from audit import record
from audit.models import Action, Surface, client_surface
from marketplace import caching, install, lookup, policy, provenance, scans, updates
from marketplace.filters import SkillFilter
from marketplace.search import MAX_OFFSET, SORTS, page_and_total, search, validate_query
from marketplace.models import PLUGIN_CONTENT, Policy, Skill, SkillFile
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
    "name", "display_name_override", "slug", "command", "description", "policy", "policy_reason",
    "loads_in_claude_code", "claude_ai_uploadable", "updated_at", "pending_revision", "plugin__name", "plugin__version",
    "plugin__commit", "plugin__approved_commit", "plugin__policy", "plugin__policy_reason", "marketplace__slug",
]
# Skills a page holds unless asked for more: a page of summaries is about 4,000 characters.
SEARCH_PAGE = LIST_PAGE = 10
SURFACES = ("CC", "CD", "CAI")  # Claude Code, Claude Desktop, Claude.ai: install.steps's keys


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


# What every tool taking a skill says of its `name`: the one format that is never ambiguous.
SkillName = Annotated[str, Field(description=(
    "The skill's full name, marketplace/plugin/skill, as search_skills and list_skills give it "
    "(acme/ops-kit/postmortem). A short name (postmortem) or plugin:skill works while only one skill you "
    "can see has it; otherwise the error lists the full names to choose from."))]
Query = Annotated[str, Field(description=(
    'What the skill should do, in plain words ("clean up CSV exports"); typos are forgiven. Web-search '
    'syntax: "exact phrase" in double quotes, -word to leave out skills mentioning it, or between '
    'alternatives (pdf or docx).'))]
Cursor = Annotated[str | None, Field(description="next_cursor from the previous page; omit for the first.")]


class Filters(BaseModel):
    marketplace: str | None = Field(None, description="Marketplace slug: the first part of a full name.")
    plugin: str | None = Field(None, description="Plugin name: the second part of a full name.")
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
    invocation: str = Field(description="What Claude Code calls it, plugin:skill: what a person types after / once "
                                        "its plugin is installed, and what Claude is offered.")
    description: str = ""
    plugin: str
    marketplace: str
    version: str = ""
    policy: str = Field("", description="The organisation's policy, when it has one: required, recommended, "
                                        "discouraged or prohibited.")
    policy_reason: str = ""
    loads_in_claude_code: bool
    claude_ai_uploadable: bool
    updated_at: str
    url: str


class SkillPage(BaseModel):
    skills: list[SkillSummary]
    total: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; absent on the last.")
    hint: str = Field("", description="When nothing was found: what to try instead.")


class FileEntry(BaseModel):
    path: str
    size: int
    binary: bool
    readable: bool = Field(description="False when the content was not stored (too large, LFS, ...).")


class Verdict(BaseModel):
    check: str
    passed: bool
    reasons: list[str] = Field(default_factory=list)


class ScanFinding(BaseModel):
    rule: str
    severity: str = Field(description="info, low, medium, high or critical.")
    file: str = Field("", description="Relative to the skill folder; absent when about no one file.")
    line: int | None = None
    message: str


class SecurityScan(BaseModel):
    state: Literal["off", "unavailable", "pending", "scanned"] = Field(
        description="off: the marketplace does not scan; unavailable: no scanner installed; pending: not scanned yet.")
    passed: bool = Field(description="Scanned, and nothing found reaches the marketplace's threshold.")
    severity: str = Field("", description="The highest found: none when nothing was, absent until scanned.")
    scanned_at: str | None = None
    scanners: list[str] = Field(default_factory=list)
    findings: list[ScanFinding] = Field(default_factory=list,
                                        description=f"The {MAX_FINDINGS} most severe; the skill's page has them all.")
    findings_total: int = 0


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
    frontmatter: dict = Field(default_factory=dict)
    surfaces: list[str] = Field(default_factory=list, description="Surfaces the plugin is offered for; absent: all.")
    verdicts: list[Verdict]
    security_scan: SecurityScan = Field(description="The security scan of the content you are served.")
    skill_md: str = ""
    skill_md_truncated: bool = False
    files: list[FileEntry]
    provenance: Provenance


class FileContent(BaseModel):
    name: str
    path: str
    size: int
    text: str | None = Field(None, description="The text, from `offset`; absent for binary files.")
    offset: int = 0
    next_offset: int | None = Field(None, description="Call again with this offset for the rest; absent at the end.")
    note: str = ""


class InstallSteps(BaseModel):
    skill: str
    surface: str
    download_url: str | None = Field(None, description=(
        "The link the Claude Desktop and Claude.ai steps mean by \"from the link\": the user opens it in a browser."))
    claude_code_url: str | None = Field(None, description=(
        "The link Claude Code's \"Download ... from the link\" step means, when the skill goes in as a personal "
        "skill."))
    sandbox_url: str | None = Field(None, description="The link in Claude.ai's sandbox command.")
    expires_at: str | None = Field(None, description=(
        "When the links expire. Each link is the .skill package, works once and is for its own step only: "
        "give the user each link as a link, and never open one yourself unless the step is yours to run."))
    claude_code_commands: list[str] = Field(default_factory=list, description=(
        "To install the plugin holding the skill from the user's curated catalogue in Claude Code: the JSON to "
        "merge into ~/.claude/settings.json (the user's catalogue token, from the page the CC steps name, in "
        "place of <token>), then the /plugin install command; absent when Claude Code cannot install it that "
        "way (its steps then unzip the .skill instead)."))
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
    hint: str = Field("", description="When there is nothing to reinstall: why, and what to try.")


class Identity(BaseModel):
    username: str
    github_login: str | None = None
    github_id: int | None = None
    organisations: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    visible_skills: int
    client: str = ""
    hint: str = Field("", description="When this account sees no skills: why.")


def compact(model: BaseModel) -> dict:
    """`model` as JSON-ready data without its optional fields that are empty (None, "", [], {}).

    Nested result models are compacted alike; a dict or list of plain data (a skill's frontmatter,
    install steps) is the author's or the catalogue's and is kept as it is. Required fields always
    stay, empty or not: an empty `skills` list is the answer, not noise.
    """
    data = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            value = compact(value)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            value = [compact(item) for item in value]
        if field.is_required() or not _empty(value):
            data[name] = value
    return data


def _empty(value) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


BAD_CURSOR = "That cursor is not one this server gave out; start again without a cursor."


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ToolProblem(BAD_CURSOR) from None
    if kind != "o" or not 0 <= offset <= MAX_OFFSET:  # cursors are offsets; none we give out comes near it
        raise ToolProblem(BAD_CURSOR)
    return offset


def _summary(skill) -> SkillSummary:
    stance, reason = skill.stance
    description = skill.description
    if len(description) > MAX_DESCRIPTION:
        description = description[:MAX_DESCRIPTION].rstrip() + "…"
    return SkillSummary(
        name=skill.identifier, short_name=skill.slug, title=skill.title, invocation=skill.invocation,
        description=description,
        plugin=skill.plugin.name, marketplace=skill.marketplace.slug, version=updates.served(skill)[0],
        policy=stance, policy_reason=reason,
        loads_in_claude_code=skill.loads_in_claude_code, claude_ai_uploadable=skill.claude_ai_uploadable,
        updated_at=skill.updated_at.isoformat(),
        url=absolute_url(skill.get_absolute_url()),
    )


def _visible(caller):
    # Without the README and content a plugin keeps, which no tool reads for a list of skills.
    return Skill.objects.visible_to(caller.user).select_related("plugin", "marketplace").defer(
        *(f"plugin__{field}" for field in PLUGIN_CONTENT))


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
    # The words as written first, without asking whether anything matches them (most searches do);
    # when nothing does, the typo path (search.search's `matched`).
    skills, total = _found(caller, query, filters, limit, offset, matched=True)
    if not total and query:
        skills, total = _found(caller, query, filters, limit, offset, matched=False)
    return SkillPage(skills=[_summary(s) for s in skills], total=total,
                     next_cursor=encode_cursor(offset + limit) if offset + limit < total else None,
                     hint="" if skills else _nothing_found(query, filters, total))


def _found(caller, query, filters, limit, offset, matched):
    """The page of skills the search finds, and how many it finds in all."""
    found = search(_visible(caller), query, headlines=False, matched=matched)
    if filters is not None:
        found = _filtered(caller, found, filters)
    found = found.order_by(*SORTS["relevance" if query else "name"]).only(*SUMMARY_FIELDS)
    skills, total = page_and_total(found, offset, limit)
    if total is None:  # a cursor past the end
        total = found.count()
    return skills, total


def _nothing_found(query, filters, total) -> str:
    """What to try when a page comes back empty."""
    if total:
        return "This page is past the last result: call again without a cursor."
    unfiltered = " or without filters" if filters is not None else ""
    if query:
        return (f"Nothing you can see matches {query!r}. Describe the task in other or fewer words, drop "
                f'"quotes" and -exclusions{unfiltered}, or browse with list_skills.')
    if filters is not None:
        return "No skill you can see passes these filters: call list_skills without them to browse everything."
    return ("You can see no skills. whoami tells which account and teams the connector is signed in as; an "
            "administrator decides who sees what.")


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


def search_skills(caller, query: str, filters=None, limit=SEARCH_PAGE, cursor=None) -> SkillPage:
    return _page(caller, _searched(query), filters, limit, cursor)


def cached_search(caller, query: str, filters=None, limit=SEARCH_PAGE, cursor=None) -> SkillPage | None:
    """search_skills's answer when it is cached, else None. It queries nothing (marketplace.caching.peek)."""
    return _cached_page(caller, _searched(query), filters, limit, cursor)


def list_skills(caller, filters=None, limit=LIST_PAGE, cursor=None) -> SkillPage:
    return _page(caller, "", filters, limit, cursor)


def cached_list(caller, filters=None, limit=LIST_PAGE, cursor=None) -> SkillPage | None:
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
        elif not result.text:
            result.note = "The file is empty." if not text else f"offset is past the end: the file has {len(text)} characters."
    record(Action.SKILL_FILE_READ, actor=caller.user, target=skill, surface=client_surface(caller.client),
           client=caller.client, extra={"path": file.path, **caller.audit_extra})
    return result


# The steps that fetch the package, each with a one-time link of its own: a link works once, so a
# browser, Claude Code and Claude.ai's sandbox sharing one would spend it for each other.
LINKED_STEPS = {"CC": ("claude_code_url", Surface.CLAUDE_CODE), "CD": ("download_url", Surface.CLAUDE_DESKTOP),
                "CAI": ("download_url", Surface.CLAUDE_AI), "sandbox": ("sandbox_url", Surface.CLAUDE_AI)}


def install_skill(caller, name: str, surface=None) -> InstallSteps:
    skill = _find(caller, name)
    surfaces = [surface] if surface else list(SURFACES)
    commands = install.skill_route(skill, caller.user)
    # Claude Code fetches nothing when it installs the plugin; Claude.ai may also fetch into its sandbox.
    linked = [s for s in surfaces if s != "CC" or not commands] + (["sandbox"] if "CAI" in surfaces else [])
    links, expires_at = {}, None
    try:
        for step in linked:
            field, audit_surface = LINKED_STEPS[step]
            if field not in links:
                links[field], link = package_links.issue(
                    skill, caller.user, surface=audit_surface, client=caller.client,
                    extra={"step": field.removesuffix("_url"), **caller.audit_extra})
                expires_at = link.expires_at.isoformat()
    except package_links.Refused as refused:
        raise ToolProblem(str(refused)) from None
    if not links and (refused := policy.refusal(skill, actor=caller.user, surface=Surface.CLAUDE_CODE,
                                                client=caller.client, extra=caller.audit_extra)):
        raise ToolProblem(refused)  # prohibited skills are not installed by any route
    steps = install.steps(skill, caller.user, download_url=links.get("sandbox_url") or next(iter(links.values()), ""))
    stance, reason = skill.stance
    note = {
        Policy.DISCOURAGED: f"Your organisation discourages this skill: {reason}",
        Policy.REQUIRED: f"Your organisation requires this skill: {reason}",
        Policy.RECOMMENDED: f"Your organisation recommends this skill: {reason}",
    }.get(stance, "")
    return InstallSteps(
        skill=skill.identifier, surface=surface or "any", **links, expires_at=expires_at,
        claude_code_commands=commands, steps={s: steps[s] for s in surfaces}, policy_note=note.rstrip(": "),
    )


def check_updates(caller, installed) -> Updates:
    if not installed:
        raise ToolProblem("installed is empty: pass [{name, version}] for each installed skill or plugin.")
    if len(installed) > 200:
        raise ToolProblem("Check at most 200 skills at a time.")
    results = updates.check(caller.user, [item.model_dump() for item in installed])
    ready = updates.install_ready(results)
    return Updates(results=[UpdateResult(**r) for r in results], install_ready=ready,
                   hint="" if ready else _nothing_to_reinstall(results))


def _nothing_to_reinstall(results) -> str:
    unknown = sorted({r["status"] for r in results} & {"not_found", "ambiguous", "unknown_version"})
    if not unknown:
        return "Nothing to reinstall: every skill checked is up to date."
    return (f"Nothing to reinstall among the skills found; see the results marked {' or '.join(unknown)}: "
            "pass full names (marketplace/plugin/skill) from search_skills, and the version from the installed "
            ".claude-plugin/plugin.json.")


def whoami(caller) -> Identity:
    user = caller.user
    identity = getattr(user, "github", None)  # None for a local account
    visible = Skill.objects.visible_to(user).count()
    return Identity(
        username=user.get_username(), github_login=identity.login if identity else None,
        github_id=identity.github_id if identity else None, organisations=identity.orgs if identity else [],
        teams=identity.teams if identity else [], visible_skills=visible,
        client=" ".join(part for part in caller.client if part),
        hint="" if visible else ("This account sees no skills: an administrator gives access by organisation, "
                                 "team or login. If it is the wrong account, connect Skillport again."),
    )

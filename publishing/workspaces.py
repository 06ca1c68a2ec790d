"""A Claude API workspace's custom skills, kept in step with what Skillport publishes (the Skills API).

Custom skills do not sync between the API, Claude.ai and Claude Code, and the docs leave the
synchronisation to the organisation: this is it, for one workspace. What the API is, as its docs
said when this was written (August 2026; the API left beta on about 20 August 2026):

- https://api.anthropic.com, headers `x-api-key` and `anthropic-version: 2023-06-01`; no beta
  header any more. Requests that still send `anthropic-beta: skills-2025-10-02` get the old beta
  shapes (`display_title`, `latest_version`, versions named by epoch timestamps such as
  "1759178010641129"), so none is sent. `anthropic-workspace-id` is needed only by credentials
  that act on several workspaces; a workspace's own key omits it.
  https://platform.claude.com/docs/en/api/skills/create,
  https://platform.claude.com/docs/en/api/skills/versions/delete (on the beta header)
- POST /v1/skills, multipart: `files[]` parts whose file names are paths under one top folder
  holding SKILL.md (`my-skill/SKILL.md`), and optional `display_name` (one line, at most 255
  characters, not unique; derived from the SKILL.md `name` when omitted). Answers a Skill:
  `id` (skill_01...), `display_name`, `latest_version_id`, `source` ({"type": "custom"}),
  `created_at`, `updated_at`, `type: "skill"`.
  https://platform.claude.com/docs/en/api/skills/create
- POST /v1/skills/{skill_id}/versions, multipart `files[]`: a complete snapshot (files left out
  are not carried over); the SKILL.md `name` must stay the skill's name, which is immutable.
  Answers a SkillVersion: `id` (skver_01...), `skill_id`, `name`, `description`, `created_at`,
  `type: "skill_version"`. https://platform.claude.com/docs/en/api/skills/versions/create,
  https://platform.claude.com/docs/en/build-with-claude/skills-guide (Versioning)
- GET /v1/skills?source=custom&limit=1..1000&page=..., answering `data` and `next_page` (null on
  the last page; the beta also had `has_more`). GET and DELETE /v1/skills/{skill_id}: "Deleting
  a Skill also removes all of its versions" (in the beta, versions had to be deleted first).
  https://platform.claude.com/docs/en/api/skills/list,
  https://platform.claude.com/docs/en/api/skills/delete, skills-guide (Deleting a Skill)
- Limits: under 30 MB uncompressed in all (8 MB in the beta); frontmatter `name` at most 64
  lowercase letters, digits and hyphens, without "anthropic" or "claude" or XML tags;
  `description` non-empty, at most 1024 characters, no XML tags. skills-guide (Limits). The
  docs say nothing of other frontmatter keys; Claude.ai's uploads refuse those outside the Agent
  Skills specification ("unexpected key in SKILL.md frontmatter"). Files go up as they are.
- Errors: `{"type": "error", "error": {"type", "message"}, "request_id"}`; 401
  authentication_error, 403 permission_error, 404 not_found_error, 413 request_too_large, 429
  rate_limit_error (with retry-after), 500 api_error, 529 overloaded_error.
  https://platform.claude.com/docs/en/api/errors
"""
import ipaddress
import logging
import re
import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from marketplace import addresses
from marketplace.tree import is_clean_path

log = logging.getLogger(__name__)

API_VERSION = "2023-06-01"
MAX_UPLOAD_BYTES = 30_000_000  # "under 30 MB", read as decimal megabytes to stay under either reading
MAX_DISPLAY_NAME = 255
DEADLINE = 600  # seconds for a whole push, retries included
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120  # an upload of up to 30 MB, then the API's own checks
FIRST_PAUSE = 1.0  # before the first retry; doubled each time, up to MAX_PAUSE
MAX_PAUSE = 30.0
PAGE_SIZE = 1000  # the API's largest page
MAX_PAGES = 1000
VERIFY = True  # requests' certificate check against certifi's authorities; tests name their own CA
RETRIED = {408, 429, 500, 502, 503, 504, 529}
# Refused before any work was done, so repeating the request cannot do the work twice.
NOT_PROCESSED = {429, 529}
# The key itself is refused (revoked, no permission, unpaid): every later request would fail alike.
KEY_REFUSED = {401, 402, 403}
# Failures of the network, not of the request: worth another try. (An SSLError is a ConnectionError too.)
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
KEY = re.compile(r"[\x21-\x7e]+")  # what a header value can carry as it is
MESSAGE_LENGTH = 500
NOT_HTTPS = "The API URL is not an https URL such as https://api.anthropic.com"


class WorkspaceError(Exception):
    """Nothing could be published to the workspace, and nothing was written; the message is for admins."""


@dataclass(frozen=True)
class WorkspaceSkill:
    """One skill to publish: `key` is Skillport's stable id for it, `folder` its top folder (its name),
    `files` its content by relative path, `digest` a hash of that content."""

    key: str
    title: str
    folder: str
    files: dict[str, bytes]
    digest: str


def push(base_url, api_key, skills, state, *, delete_removed=False, deadline=DEADLINE):
    """Make the workspace's custom skills those of `skills`; return (new_state, changes, problems).

    `skills` are WorkspaceSkill-like objects or dicts; `state` is the new_state of the previous
    push ({key: {"skill_id", "version", "digest"}}), for the caller to store. `changes` is
    {"added", "updated", "recreated", "removed", "deleted": [keys], "unchanged": count};
    `problems` lists (key, message) for skills that failed, whose entries stay as they were.

    1. Check base_url (https, a host that is not internal) and list the workspace's custom
       skills; if either fails, WorkspaceError, before anything is written.
    2. Each skill is created when it has no entry, or its recorded skill is gone from the
       workspace ("recreated"); gets a new version when its digest changed or the workspace's
       latest version is not the one recorded (someone uploaded another); is left alone
       otherwise. A failure stops only that skill, unless the API refuses the key or time runs
       out: then the rest are reported as not published.
    3. Keys in `state` but not in `skills` stay in the workspace and in the state, reported as
       "removed", unless delete_removed: then their skills are deleted ("deleted"). Keys whose
       skill is already gone leave the state.
    """
    client = _Client(base_url, api_key, deadline)
    with client.session:  # its connections close with the push
        return _reconcile(client, skills, state, delete_removed)


def _reconcile(client, skills, state, delete_removed):
    try:
        remote = {skill["id"]: skill for skill in client.custom_skills()}
    except _Failed as exc:
        raise WorkspaceError(f"The workspace's skills could not be listed: {exc}") from None
    new_state = {key: dict(entry) for key, entry in state.items()}
    changes = {"added": [], "updated": [], "recreated": [], "removed": [], "deleted": [], "unchanged": 0}
    problems = []
    stopped = ""
    wanted = set()
    for skill in map(_skill, skills):
        wanted.add(skill.key)
        if stopped:
            problems.append((skill.key, f"Not published: {stopped}"))
            continue
        try:
            _publish(client, skill, new_state, remote, changes, problems)
        except _Failed as exc:
            problems.append((skill.key, str(exc)))
            if isinstance(exc, _Stop):
                stopped = str(exc)
    for key in sorted(set(new_state) - wanted):
        if stopped:
            changes["removed"].append(key)
            if delete_removed:
                problems.append((key, f"Not deleted: {stopped}"))
            continue
        try:
            _remove(client, key, new_state, remote, changes, delete_removed)
        except _Failed as exc:
            changes["removed"].append(key)
            problems.append((key, str(exc)))
            if isinstance(exc, _Stop):
                stopped = str(exc)
    return new_state, changes, problems


def _publish(client, skill, state, remote, changes, problems):
    entry = state.get(skill.key) or {}
    skill_id = entry.get("skill_id")
    present = _present(client, remote, skill_id)
    if present and entry.get("digest") == skill.digest \
            and remote[skill_id].get("latest_version_id") == entry.get("version"):
        changes["unchanged"] += 1
        return
    parts = _uploads(skill, problems)
    if present:
        try:
            version = client.call("POST", f"/v1/skills/{skill_id}/versions", files=parts)
        except _Failed as exc:
            if exc.status != 404:
                raise
            del remote[skill_id]  # deleted in the workspace since it was listed: created again below
        else:
            state[skill.key] = {"skill_id": skill_id, "version": _id(version, "id"), "digest": skill.digest}
            remote[skill_id]["latest_version_id"] = state[skill.key]["version"]
            changes["updated"].append(skill.key)
            log.info("Skills API: new version of %s (%s)", skill.key, skill_id)
            return
    created = client.create(_display_name(skill), parts, known=remote)
    state[skill.key] = {"skill_id": _id(created, "id"), "version": _id(created, "latest_version_id"),
                        "digest": skill.digest}
    remote[created["id"]] = created
    changes["recreated" if skill_id else "added"].append(skill.key)
    log.info("Skills API: created %s (%s)", skill.key, created["id"])


def _remove(client, key, state, remote, changes, delete):
    skill_id = state[key].get("skill_id")
    if not _present(client, remote, skill_id):
        del state[key]  # deleted in the workspace already: nothing left to remove
    elif not delete:
        changes["removed"].append(key)
    else:
        try:
            client.call("DELETE", f"/v1/skills/{skill_id}")  # its versions go with it
        except _Failed as exc:
            if exc.status != 404:
                raise
        del state[key]
        changes["deleted"].append(key)
        log.info("Skills API: deleted %s (%s)", key, skill_id)


def _present(client, remote, skill_id) -> bool:
    """Whether the workspace has the skill: listed, or else found by its id (a listing may not show
    a skill created moments ago yet, and creating it again would leave a duplicate)."""
    if skill_id in remote:
        return True
    if not isinstance(skill_id, str) or not ID.fullmatch(skill_id):
        return False
    found = client.skill(skill_id)
    if found is not None:
        remote[skill_id] = found
    return found is not None


def _skill(item) -> WorkspaceSkill:
    fields = WorkspaceSkill.__dataclass_fields__
    if isinstance(item, dict):
        return WorkspaceSkill(**{name: item[name] for name in fields})
    return WorkspaceSkill(**{name: getattr(item, name) for name in fields})


def _uploads(skill, problems) -> list:
    """The multipart `files[]` parts for `skill`: each file under its folder, SKILL.md at the top.

    A file whose name is not a plain relative path is left out, and said so; a quote is refused
    too, because multipart encodes it as %22 and the API would store another name.
    """
    if not is_clean_path(skill.folder) or "/" in skill.folder or '"' in skill.folder:
        raise _Failed(f"Not uploaded: its folder name {skill.folder!r} cannot be a skill's top folder")
    if "SKILL.md" not in skill.files:
        raise _Failed("Not uploaded: it has no SKILL.md at its top")
    parts = []
    for path in sorted(skill.files):
        if is_clean_path(path) and '"' not in path:
            parts.append(("files[]", (f"{skill.folder}/{path}", skill.files[path], "application/octet-stream")))
        else:
            problems.append((skill.key, f"{path!r} is left out of the upload: not a plain relative file name"))
    size = sum(len(part[1][1]) for part in parts)
    if size > MAX_UPLOAD_BYTES:
        raise _Failed(f"Not uploaded: its files hold {size:,} bytes; the Skills API takes under 30 MB a skill")
    return parts


def _display_name(skill) -> str:
    """The title on one line, within the API's 255 characters; the folder name when there is none."""
    return " ".join(str(skill.title or "").split())[:MAX_DISPLAY_NAME] or skill.folder


def _id(answer, name) -> str:
    """An id from an answer; ids go into request paths and the stored state, so only plain ones."""
    value = answer.get(name) if isinstance(answer, dict) else None
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise _Failed(f"The API's answer has no usable {name!r}")
    return value


class _Failed(Exception):
    """A request failed for good; `status` is the HTTP status, None when nothing answered."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class _Stop(_Failed):
    """Nothing more can be done in this push: the key is refused, or the time is up."""


class _Client:
    """Requests to one workspace's Skills API, at the address its host was checked to have."""

    def __init__(self, base_url, api_key, deadline):
        api_key = str(api_key or "").strip()
        if not KEY.fullmatch(api_key):
            raise WorkspaceError("The target has no usable API key: set it again (it holds spaces or other "
                                 "characters an API key cannot have)" if api_key else "The target has no API key")
        self.api_key = api_key
        self.deadline = time.monotonic() + deadline
        self.origin, host_header, tls_name = _endpoint(base_url)
        self.session = requests.Session()
        # Proxies and .netrc from the environment would send the key by another way, or break the pinning.
        self.session.trust_env = False
        self.session.verify = VERIFY
        self.session.headers.update({
            "x-api-key": api_key, "anthropic-version": API_VERSION, "Host": host_header,
            "User-Agent": "Skillport", "Accept": "application/json",
        })
        self.session.mount("https://", _Pinned(tls_name))

    def custom_skills(self) -> list[dict]:
        """Every custom skill of the workspace, page after page."""
        skills, page = [], None
        for _ in range(MAX_PAGES):
            params = {"source": "custom", "limit": PAGE_SIZE, **({"page": page} if page else {})}
            answer = self.call("GET", "/v1/skills", params=params)
            data = answer.get("data")
            if not isinstance(data, list):
                raise _Failed("GET /v1/skills answered without a list of skills")
            skills += [s for s in data if isinstance(s, dict) and ID.fullmatch(str(s.get("id", "")))]
            following = answer.get("next_page")
            if not following or following == page:
                return skills
            page = str(following)
        raise _Failed(f"GET /v1/skills answered more than {MAX_PAGES} pages")

    def skill(self, skill_id) -> dict | None:
        try:
            return self.call("GET", f"/v1/skills/{skill_id}")
        except _Failed as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, display_name, parts, known) -> dict:
        """A new skill of `parts`. When an attempt's answer is lost, the skill it may have created
        is looked for before trying again: the API has no idempotency key, and a second create
        would leave a duplicate in the workspace."""
        def made_by_lost_attempt():
            found = [s for s in self.custom_skills() if s["id"] not in known and s.get("display_name") == display_name]
            return found[0] if len(found) == 1 else None

        return self.call("POST", "/v1/skills", data={"display_name": display_name}, files=parts,
                         lost=made_by_lost_attempt)

    def call(self, method, path, *, params=None, data=None, files=None, lost=None) -> dict:
        """The JSON answer to a request, tried again after a transient failure while time remains.

        `lost` is for a request that must not be repeated blindly: after an attempt that may have
        been carried out though no answer came back, it returns what that attempt made, or None
        to make the request again.
        """
        pause = FIRST_PAUSE
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise _Stop("The publish ran out of time before the Skills API was done")
            try:
                response = self.session.request(
                    method, self.origin + path, params=params, data=data, files=files, allow_redirects=False,
                    timeout=(min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining)),
                )
            except requests.exceptions.SSLError:
                raise _Stop(f"{method} {path}: the API URL's TLS connection failed (its certificate was "
                            "refused, or it does not speak TLS)") from None
            except TRANSIENT as exc:
                failure = _Failed(f"{method} {path}: the Skills API did not answer ({exc.__class__.__name__})")
                maybe_done, wait = not _never_sent(exc), pause
            except requests.RequestException as exc:
                raise _Stop(f"{method} {path}: the request could not be made ({exc.__class__.__name__})") from None
            else:
                if response.status_code < 300:
                    return self._answer(method, path, response)
                failure = self._failure(method, path, response)
                if response.status_code not in RETRIED:
                    raise failure
                maybe_done = response.status_code not in NOT_PROCESSED
                wait = _retry_after(response) or pause
            if time.monotonic() + wait >= self.deadline:
                raise failure
            log.info("Skills API: %s; trying again in %.1fs", failure, wait)
            time.sleep(wait)
            pause = min(pause * 2, MAX_PAUSE)
            if lost is not None and maybe_done and (found := lost()) is not None:
                return found

    def _answer(self, method, path, response) -> dict:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise _Failed(f"{method} {path}: the Skills API answered {response.status_code} without a JSON object")
        return answer

    def _failure(self, method, path, response) -> _Failed:
        status = response.status_code
        if 300 <= status < 400:
            # Following it would send the key wherever the answer points.
            return _Stop(f"{method} {path}: the API URL answered with a redirect, which Skillport does not "
                         "follow; set the target's API URL to where the API is")
        try:
            error = response.json().get("error") or {}
            detail = f"{error.get('type', '')}: {error.get('message', '')}".strip(": ")
        except (ValueError, AttributeError):
            detail = ""
        request_id = response.headers.get("request-id", "")
        text = f"{method} {path} answered {status}" + (f" {detail}" if detail else "") + (
            f" (request {request_id})" if request_id else "")
        text = self._clean(text)
        if status in KEY_REFUSED:
            return _Stop(f"The Skills API refused the key: {text}. Check the target's API key")
        return _Failed(text, status)

    def _clean(self, text) -> str:
        """Text from the server, fit to show admins: the key never (a server may echo it), on one line."""
        if self.api_key:
            text = text.replace(self.api_key, "[API key]")
        text = re.sub(r"[\x00-\x1f\x7f]+", " ", text)
        return text if len(text) <= MESSAGE_LENGTH else text[:MESSAGE_LENGTH] + "..."


class _Pinned(HTTPAdapter):
    """HTTPS to the checked address, while TLS names the host (SNI) and checks its certificate for it."""

    def __init__(self, tls_name):
        self.tls_name = tls_name  # before HTTPAdapter.__init__, which makes the pool manager
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, server_hostname=self.tls_name, assert_hostname=self.tls_name, **kwargs)


def _endpoint(base_url) -> tuple[str, str, str]:
    """(URL prefix at the checked address, Host header, name TLS checks) for an admin's API URL.

    The host is checked as git remotes are (marketplace.addresses): resolved, and refused when
    internal unless SKILLPORT_FETCH_ALLOWED_HOSTS lists it; requests then go to that address, so
    a second lookup cannot lead elsewhere (DNS rebinding). Plain http only to loopback.
    """
    url = str(base_url or "").strip().rstrip("/")
    try:
        remote = addresses.parse(url + "/v1/skills")
    except addresses.InvalidURL:
        raise WorkspaceError(NOT_HTTPS) from None
    prefix = remote.path.removesuffix("/v1/skills")
    if remote.scheme not in ("https", "http") or not re.fullmatch(r"(/[A-Za-z0-9._~-]+)*", prefix):
        raise WorkspaceError(NOT_HTTPS)
    if "@" in remote.prefix:
        raise WorkspaceError("The API URL cannot hold credentials: the key goes in the target's API key")
    try:
        address = addresses.resolve(remote)
    except addresses.Refused as exc:
        raise WorkspaceError(f"The API URL is refused: {exc}") from None
    except ConnectionError as exc:
        raise WorkspaceError(f"The API URL's host cannot be resolved now: {exc}") from None
    if remote.scheme == "http" and not ipaddress.ip_address(address).is_loopback:
        raise WorkspaceError("The API URL must use https (plain http only to a loopback address)")
    bracketed = f"[{address}]" if ":" in address else address
    host = f"[{remote.host}]" if ":" in remote.host else remote.host
    default_port = addresses.DEFAULT_PORTS[remote.scheme]
    host_header = host if remote.port == default_port else f"{host}:{remote.port}"
    return f"{remote.scheme}://{bracketed}:{remote.port}{prefix}", host_header, remote.host


def _never_sent(exc) -> bool:
    """Whether a failed request surely never reached the API: no connection was made for it."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def _retry_after(response) -> float | None:
    """The wait a 429 asks for, in seconds (the API sends retry-after as a number)."""
    try:
        return max(float(response.headers.get("retry-after", "")), 0.0)
    except ValueError:
        return None

"""A small fake of Anthropic's Skills API (`/v1/skills` and its versions) on loopback.

It answers as the generally available API documents (platform.claude.com/docs/en/api/skills,
August 2026): no beta header, `display_name`, `latest_version_id`, version ids, and errors as
`{"type": "error", "error": {"type", "message"}, "request_id"}`. Uploads are checked as the
docs list (one top folder holding SKILL.md, `name` and `description` frontmatter, a later
version keeping the skill's `name`, under 30 MB in all), and frontmatter keys outside the Agent
Skills specification are refused with the message Claude's uploads give. Every upload's files
are kept, byte for byte, and every request is recorded.

Usage: `with FakeSkillsAPI() as api: push(api.base_url, api.api_key, ...)`; `api.fail(529)`
makes the next request answer 529 overloaded, `api.delete(skill_id)` deletes on the API side.
"""
import base64
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import yaml

API_VERSION = "2023-06-01"
MAX_UPLOAD_BYTES = 30_000_000
MAX_BODY_BYTES = 40_000_000  # larger bodies are refused unread
FRONTMATTER_KEYS = ("name", "description", "license", "allowed-tools", "compatibility", "metadata")
NAME = re.compile(r"[a-z0-9-]{1,64}")
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
    503: "api_error", 529: "overloaded_error",
}
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass
class Version:
    id: str
    created_at: str
    name: str
    description: str
    directory: str  # the upload's top folder
    files: dict[str, bytes]  # path under the top folder -> content, as uploaded


@dataclass
class Skill:
    id: str
    display_name: str
    name: str
    created_at: str
    updated_at: str
    source: str = "custom"
    versions: list[Version] = field(default_factory=list)

    @property
    def latest(self) -> Version:
        return self.versions[-1]


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict  # lower-case names


@dataclass
class _Failure:
    status: int
    message: str
    after_processing: bool  # do the work, then answer the error: an answer lost on the way back
    method: str | None  # only requests of this method fail; None: any


class Rejected(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class FakeSkillsAPI:
    """One workspace's Skills API: custom skills, plus two of Anthropic's, which only listings show."""

    def __init__(self, api_key=None, ssl_context=None):
        self.api_key = api_key or "sk-ant-api03-" + secrets.token_urlsafe(32)
        self.skills: dict[str, Skill] = {}
        self.requests: list[Request] = []
        self.failures: list[_Failure] = []
        self.max_limit = 1000  # the documented page-size cap; lower it to see pagination
        self.unlisted: set[str] = set()  # skills listings do not show yet, as a lagging index would
        self.redirect_to = None  # answer every request with a redirect there
        self.hook = None  # called with (method, path) before each request is handled
        self.server_names: list[str] = []  # the TLS SNI each connection sent
        self.lock = threading.Lock()
        self.ssl_context = ssl_context
        self._anthropic = [
            Skill(skill, skill, skill, "2025-10-13T00:00:00Z", "2025-10-13T00:00:00Z", "anthropic",
                  [Version("20251013", "2025-10-13T00:00:00Z", skill, skill, skill, {})])
            for skill in ("pptx", "xlsx")
        ]
        self._httpd = None
        self._thread = None

    # --- what tests arrange and read ----------------------------------------------------------

    def fail(self, *statuses, message=None, after_processing=False, method=None):
        """The next requests (of `method`, if given) answer these statuses, one each, as the API's errors."""
        with self.lock:
            self.failures += [_Failure(s, message or f"fake failure {s}", after_processing, method) for s in statuses]

    def delete(self, skill_id):
        """Delete a skill on the API side, as someone in the Console would."""
        with self.lock:
            del self.skills[skill_id]

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def by_name(self, name) -> Skill:
        (skill,) = [s for s in self.skills.values() if s.name == name]
        return skill

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self
        if self.ssl_context is not None:
            self.ssl_context.sni_callback = self._record_server_name
            self._httpd.socket = self.ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-skills-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def _record_server_name(self, ssl_socket, server_name, context):
        with self.lock:
            self.server_names.append(server_name)

    # --- the API ------------------------------------------------------------------------------

    def create_skill(self, display_name, uploads) -> Skill:
        version = _version(uploads, name=None)
        if display_name is not None and (len(display_name) > 255 or "\n" in display_name):
            raise Rejected(400, "display_name: must be a single line of at most 255 characters")
        now = _now()
        skill = Skill(_id("skill_"), display_name or version.name, version.name, now, now)
        skill.versions.append(version)
        with self.lock:
            self.skills[skill.id] = skill
        return skill

    def create_version(self, skill_id, uploads) -> Version:
        skill = self._skill(skill_id)
        version = _version(uploads, name=skill.name)
        with self.lock:
            skill.versions.append(version)
            skill.updated_at = version.created_at
        return version

    def _skill(self, skill_id) -> Skill:
        with self.lock:
            skill = self.skills.get(skill_id)
        if skill is None:
            raise Rejected(404, f"Skill not found: {skill_id}")
        return skill


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSkillsAPI"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass  # keep test output clean

    @property
    def api(self) -> FakeSkillsAPI:
        return self.server.fake

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        api = self.api
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        body = self._body() if method == "POST" else b""
        if body is None:
            return self._error(413, "Request exceeds the maximum allowed number of bytes")
        with api.lock:
            api.requests.append(Request(method, url.path, query, headers))
            failure = next((f for f in api.failures if f.method in (None, method)), None)
            if failure:
                api.failures.remove(failure)
        if api.hook:
            api.hook(method, url.path)
        if api.redirect_to:
            return self._send(307, b"", {"Location": api.redirect_to + self.path})
        if failure and not failure.after_processing:
            return self._error(failure.status, failure.message)
        if headers.get("x-api-key") != api.api_key:
            return self._error(401, "invalid x-api-key")
        if headers.get("anthropic-version") != API_VERSION:
            return self._error(400, "anthropic-version: header is required")
        try:
            status, answer = self._route(method, url.path, query, headers, body)
        except Rejected as exc:
            return self._error(exc.status, str(exc))
        if failure:
            return self._error(failure.status, failure.message)
        self._json(status, answer)

    def _route(self, method, path, query, headers, body):
        api = self.api
        parts = path.strip("/").split("/")
        if parts[:2] != ["v1", "skills"] or len(parts) > 5:
            raise Rejected(404, f"Not found: {path}")
        if len(parts) == 2 and method == "GET":
            return 200, self._page(self._listed(query.get("source")), query, _skill_json)
        if len(parts) == 2 and method == "POST":
            fields, uploads = _multipart(headers.get("content-type", ""), body)
            return 200, _skill_json(api.create_skill(fields.get("display_name"), uploads))
        skill = api._skill(parts[2])
        if len(parts) == 3 and method == "GET":
            return 200, _skill_json(skill)
        if len(parts) == 3 and method == "DELETE":
            api.delete(skill.id)  # the docs: deleting a skill also removes all of its versions
            return 200, {"id": skill.id, "type": "skill_deleted"}
        if parts[3] != "versions":
            raise Rejected(404, f"Not found: {path}")
        if len(parts) == 4 and method == "GET":
            versions = [(skill, v) for v in reversed(skill.versions)]  # newest first
            return 200, self._page(versions, query, lambda sv: _version_json(*sv))
        if len(parts) == 4 and method == "POST":
            _, uploads = _multipart(headers.get("content-type", ""), body)
            return 200, _version_json(skill, api.create_version(skill.id, uploads))
        version = next((v for v in skill.versions if v.id == parts[4] or parts[4] == "latest"
                        and v is skill.latest), None)
        if version is None:
            raise Rejected(404, f"Skill version not found: {parts[4]}")
        if method == "GET":
            return 200, _version_json(skill, version)
        if method == "DELETE":
            with api.lock:
                skill.versions.remove(version)
                if not skill.versions:
                    del api.skills[skill.id]
            return 200, {"id": version.id, "type": "skill_version_deleted"}
        raise Rejected(404, f"Not found: {method} {path}")

    def _listed(self, source):
        with self.api.lock:
            skills = [s for s in self.api.skills.values() if s.id not in self.api.unlisted]
        if source in (None, "anthropic"):
            skills = [s for s in skills if source is None] + self.api._anthropic
        elif source != "custom":
            raise Rejected(400, f"source: unknown value {source!r}")
        return skills

    def _page(self, items, query, to_json):
        """One page: `limit` items (1 to 1000, 20 by default) from the opaque `page` token on."""
        try:
            limit = int(query.get("limit", 20))
            start = int(base64.urlsafe_b64decode(query["page"][5:]).decode()) if "page" in query else 0
        except (ValueError, UnicodeDecodeError):
            raise Rejected(400, "limit or page: invalid value") from None
        if not 1 <= limit <= 1000:
            raise Rejected(400, "limit: must be between 1 and 1000")
        end = start + min(limit, self.api.max_limit)
        following = "page_" + base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
        return {"data": [to_json(item) for item in items[start:end]], "next_page": following}

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body is left unread
            return None
        return self.rfile.read(length)

    # --- responses ----------------------------------------------------------------------------

    def _error(self, status, message):
        request_id = _id("req_")
        body = {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
                "request_id": request_id}
        self._json(status, body, {"request-id": request_id})

    def _json(self, status, data, headers=None):
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _send(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _multipart(content_type, body) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The form's plain fields and its `files[]` parts (filename, bytes), read exactly as sent.

    Parameters are read as browsers write them (WHATWG: quoted, no backslash escapes), which
    is what requests (urllib3) sends; the fake does not undo its %22 for a quote.
    """
    boundary = re.fullmatch(r'multipart/form-data;\s*boundary="?([^";]+)"?', content_type.strip())
    if boundary is None:
        raise Rejected(400, "Expected a multipart/form-data body")
    delimiter = b"\r\n--" + boundary[1].encode()
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise Rejected(400, "Malformed multipart body")
    fields, uploads = {}, []
    for chunk in chunks[1:-1]:
        head, separator, content = chunk.partition(b"\r\n\r\n")
        disposition = re.search(rb'(?im)^content-disposition:\s*form-data(.*)$', head)
        if not separator or disposition is None:
            raise Rejected(400, "Malformed multipart part")
        params = dict(re.findall(rb';\s*(name|filename)="([^"]*)"', disposition[1]))
        name = params.get(b"name", b"").decode()
        if name in ("files[]", "files"):
            if b"filename" not in params:
                raise Rejected(400, "files: each part needs a filename")
            uploads.append((params[b"filename"].decode(), content))
        else:
            fields[name] = content.decode()
    return fields, uploads


def _version(uploads, name) -> Version:
    """A version of the uploaded files, or Rejected saying what the API would refuse."""
    if not uploads:
        raise Rejected(400, "files: at least one file is required")
    if sum(len(content) for _, content in uploads) > MAX_UPLOAD_BYTES:
        raise Rejected(400, "Total upload size must be under 30 MB")
    tops, files = set(), {}
    for filename, content in uploads:
        top, _, path = filename.partition("/")
        if not path or filename.startswith("/") or "\\" in filename or ".." in filename.split("/"):
            raise Rejected(400, f"files: {filename!r} must be a path inside one top-level directory")
        if path in files:
            raise Rejected(400, f"files: {filename!r} is uploaded twice")
        tops.add(top)
        files[path] = content
    if len(tops) != 1:
        raise Rejected(400, "All files must be in the same top-level directory")
    if "SKILL.md" not in files:
        raise Rejected(400, "SKILL.md file must be at the root of the top-level directory")
    meta = _frontmatter(files["SKILL.md"])
    if name is not None and meta["name"] != name:
        raise Rejected(400, f"SKILL.md name {meta['name']!r} must match the skill's name {name!r}")
    return Version(_id("skver_"), _now(), meta["name"], meta["description"], tops.pop(), files)


def _frontmatter(skill_md: bytes) -> dict:
    try:
        text = skill_md.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "SKILL.md must be UTF-8 text") from None
    match = re.match(r"---\r?\n(.*?)\r?\n---\r?\n", text, re.S)
    if not match:
        raise Rejected(400, "SKILL.md must start with YAML frontmatter between --- lines")
    try:
        meta = yaml.safe_load(match[1])
    except yaml.YAMLError:
        raise Rejected(400, "SKILL.md frontmatter is not valid YAML") from None
    if not isinstance(meta, dict):
        raise Rejected(400, "SKILL.md frontmatter must be a mapping")
    if unexpected := set(meta) - set(FRONTMATTER_KEYS):
        raise Rejected(400, f"unexpected key in SKILL.md frontmatter: {sorted(unexpected)[0]}; "
                            f"properties must be in {FRONTMATTER_KEYS}")
    name, description = meta.get("name"), meta.get("description")
    if not isinstance(name, str) or not NAME.fullmatch(name) or "anthropic" in name or "claude" in name:
        raise Rejected(400, "name: at most 64 lowercase letters, digits and hyphens, without 'anthropic' or 'claude'")
    if not isinstance(description, str) or not description.strip() or len(description) > 1024 \
            or re.search(r"<[^>]*>", description):
        raise Rejected(400, "description: 1 to 1024 characters, without XML tags")
    return meta


def _skill_json(skill: Skill) -> dict:
    return {
        "type": "skill", "id": skill.id, "created_at": skill.created_at, "updated_at": skill.updated_at,
        "display_name": skill.display_name, "latest_version_id": skill.latest.id, "source": {"type": skill.source},
    }


def _version_json(skill: Skill, version: Version) -> dict:
    return {
        "type": "skill_version", "id": version.id, "skill_id": skill.id, "created_at": version.created_at,
        "name": version.name, "description": version.description,
    }


def _id(prefix) -> str:
    return prefix + "01" + "".join(secrets.choice(_ALPHABET) for _ in range(22))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")

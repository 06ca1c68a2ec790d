"""A small fake GitHub on loopback: the OAuth web flow and the user/org/team API allauth's provider calls."""
import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Scopes that let a token read org and team membership. GitHub's scopes nest (admin:org > write:org >
# read:org), so any of them will do.
ORG_SCOPES = {"read:org", "write:org", "admin:org"}
EMAIL_SCOPES = {"user", "user:email"}


@dataclass
class User:
    login: str
    id: int
    name: str
    email: str
    orgs: tuple  # org logins
    teams: tuple  # "org/team-slug"


@dataclass
class Grant:
    """What one authorization code (and then its token) was issued for."""

    login: str
    scopes: tuple
    redirect_uri: str
    code_challenge: str = ""


class FakeGitHub:
    """GitHub as allauth's GitHub provider sees it when GITHUB_URL is `base_url`.

    Usage: `with FakeGitHub() as gh: gh.add_user("ada", orgs=["acme"]); gh.login_as("ada")`.
    The browser side (`/login/oauth/authorize`) approves at once as the user chosen with `login_as`,
    as if they were signed in at GitHub and had already authorised the app.
    """

    def __init__(self, client_id="fake-client-id", client_secret="fake-client-secret"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.users: dict[str, User] = {}
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, str] = {}  # token -> login
        self.grants: dict[str, Grant] = {}  # token -> grant, for the scopes the token carries
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, params) of every request
        self.signed_in: str | None = None
        self.deny_next = False
        self.lock = threading.Lock()
        # Stable numeric ids, as GitHub gives users, orgs and teams.
        self._ids = itertools.count(1001)
        self._org_ids: dict[str, int] = {}
        self._team_ids: dict[str, int] = {}
        self._httpd = None
        self._thread = None

    # --- data the tests set up -----------------------------------------------------------------

    def add_user(self, login, id=None, name=None, email=None, orgs=(), teams=()) -> User:
        """Add a GitHub account; a team ("org/slug") makes the user a member of its org too."""
        team_orgs = [team.split("/", 1)[0] for team in teams]
        user = User(
            login=login,
            id=id if id is not None else next(self._ids),
            name=name if name is not None else login.title(),
            email=email if email is not None else f"{login}@example.com",
            orgs=tuple(dict.fromkeys([*orgs, *team_orgs])),
            teams=tuple(teams),
        )
        with self.lock:
            self.users[login] = user
        return user

    def login_as(self, login: str | None):
        """Choose who is signed in at GitHub for the next authorize requests (None: nobody)."""
        if login is not None and login not in self.users:
            raise KeyError(f"no fake GitHub user {login!r}: add_user() first")
        with self.lock:
            self.signed_in = login

    def issue_token(self, login, scopes=("read:org",)) -> str:
        """A token for `login` without the browser dance, like a personal access token."""
        token = secrets.token_hex(20)
        with self.lock:
            self.tokens[token] = login
            self.grants[token] = Grant(login, tuple(scopes), "")
        return token

    def revoke_all(self):
        """Forget every issued token, as when the user revokes the app at GitHub."""
        with self.lock:
            self.tokens.clear()
            self.grants.clear()

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self
        # A short poll interval: shutdown() waits for the loop to notice, 0.5s by default per stop.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-github", daemon=True
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
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # --- helpers for the handler ---------------------------------------------------------------

    def _org_id(self, org):
        return self._org_ids.setdefault(org, next(self._ids))

    def _team_json(self, team):
        org, slug = team.split("/", 1)
        return {
            "id": self._team_ids.setdefault(team, next(self._ids)),
            "slug": slug,
            "name": slug,
            "organization": {"login": org, "id": self._org_id(org)},
        }


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeGitHub"

    def log_message(self, *args):
        pass  # keep test output clean

    @property
    def gh(self) -> FakeGitHub:
        return self.server.fake

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        if method == "POST":
            # Form fields are recorded with the query so tests can see e.g. the code_verifier sent.
            length = int(self.headers.get("Content-Length") or 0)
            params.update(parse_qsl(self.rfile.read(length).decode()))
        with self.gh.lock:
            self.gh.requests.append((method, url.path, params))
        route = (method, url.path)
        if route == ("GET", "/login/oauth/authorize"):
            return self._authorize(params)
        if route == ("POST", "/login/oauth/access_token"):
            return self._access_token(params)
        if method == "GET" and url.path.startswith("/api/v3/"):
            return self._api(url.path.removeprefix("/api/v3"), params)
        self._json(404, {"message": "Not Found"})

    # --- OAuth web flow ------------------------------------------------------------------------

    def _authorize(self, params):
        gh = self.gh
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != gh.client_id or not redirect_uri:
            return self._json(404, {"message": "Not Found"})  # GitHub shows a 404 page for unknown apps
        with gh.lock:
            login, deny = gh.signed_in, gh.deny_next
            gh.deny_next = False
        if login is None:
            return self._json(403, {"message": "Nobody is signed in at the fake GitHub: call login_as()"})
        answer = {"state": params["state"]} if "state" in params else {}
        if deny:
            answer = {"error": "access_denied", **answer}
        else:
            code = secrets.token_hex(10)
            # GitHub takes a space- (or comma-) separated scope list and reports grants comma-separated.
            scopes = tuple(dict.fromkeys(s for s in re.split(r"[\s,]+", params.get("scope", "")) if s))
            challenge = params.get("code_challenge", "")
            if challenge and params.get("code_challenge_method", "plain") != "S256":
                answer = {"error": "invalid_request", **answer}  # GitHub only supports S256
            else:
                with gh.lock:
                    gh.codes[code] = Grant(login, scopes, redirect_uri, challenge)
                answer = {"code": code, **answer}
        self.send_response(302)
        self.send_header("Location", _add_query(redirect_uri, answer))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _access_token(self, params):
        gh = self.gh
        if params.get("client_id") != gh.client_id or params.get("client_secret") != gh.client_secret:
            return self._token_reply({"error": "incorrect_client_credentials"})
        with gh.lock:
            grant = gh.codes.pop(params.get("code", ""), None)  # pop: a code works once
        if grant is None or not _pkce_ok(grant.code_challenge, params.get("code_verifier", "")):
            return self._token_reply({"error": "bad_verification_code"})
        if params.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
            return self._token_reply({"error": "redirect_uri_mismatch"})
        token = "gho_" + secrets.token_hex(18)
        with gh.lock:
            gh.tokens[token] = grant.login
            gh.grants[token] = grant
        self._token_reply({"access_token": token, "token_type": "bearer", "scope": ",".join(grant.scopes)})

    def _token_reply(self, data):
        # Like GitHub: errors come back with status 200 too, and the body is JSON only when the
        # client asks for it; otherwise it is form-encoded (what allauth gets, as it sends
        # requests' default `Accept: */*`).
        if "application/json" in self.headers.get("Accept", ""):
            return self._json(200, data)
        self._send(200, "application/x-www-form-urlencoded; charset=utf-8", urlencode(data).encode())

    # --- REST API ------------------------------------------------------------------------------

    def _api(self, path, params):
        gh = self.gh
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if not token or scheme.lower() not in ("token", "bearer"):
            return self._json(401, {"message": "Requires authentication"})
        with gh.lock:
            login = gh.tokens.get(token.strip())
            grant = gh.grants.get(token.strip())
            user = gh.users.get(login)
        if user is None:
            return self._json(401, {"message": "Bad credentials"})
        scopes = set(grant.scopes)
        extra = {"X-OAuth-Scopes": ", ".join(grant.scopes)}

        if path == "/user":
            return self._json(200, {
                "id": user.id,
                "login": user.login,
                "name": user.name,
                "email": user.email,
                "avatar_url": f"{gh.base_url}/avatars/{user.login}.png",
                "html_url": f"{gh.base_url}/{user.login}",
                "type": "User",
            }, extra)
        if path == "/user/emails":
            if not scopes & EMAIL_SCOPES:
                return self._json(404, {"message": "Not Found"}, extra)  # what GitHub answers (allauth expects it)
            email = {"email": user.email, "primary": True, "verified": True, "visibility": "public"}
            return self._json(200, [email], extra)

        if not path.startswith(("/user/orgs", "/user/memberships/orgs/", "/user/teams", "/orgs/")):
            return self._json(404, {"message": "Not Found"}, extra)
        if not scopes & ORG_SCOPES:
            # Stricter than GitHub, which lists public org memberships without read:org: an app that
            # gates on membership must ask for read:org, and this makes forgetting it fail in tests.
            extra["X-Accepted-OAuth-Scopes"] = "read:org"
            return self._json(403, {"message": "Missing the read:org scope"}, extra)
        with gh.lock:
            orgs = [{"login": org, "id": gh._org_id(org)} for org in user.orgs]
            teams = [gh._team_json(team) for team in user.teams]
        if path == "/user/orgs":
            return self._json(200, orgs, extra)
        if path.startswith("/orgs/"):
            return self._org_api(path, params, user, extra)
        if path == "/user/teams":
            return self._paginated(path, params, teams, extra)
        org = path.removeprefix("/user/memberships/orgs/")
        if org not in user.orgs:
            return self._json(404, {"message": "Not Found"}, extra)
        return self._json(200, {
            "state": "active",
            "role": "member",
            "organization": {"login": org, "id": gh._org_id(org)},
            "user": {"login": user.login, "id": user.id},
        }, extra)

    def _org_api(self, path, params, user, extra):
        """Members and teams of an org, for the server's own token (a member of that org)."""
        parts = path.strip("/").split("/")  # orgs/<org>/members | orgs/<org>/teams[/<slug>/members]
        org = parts[1] if len(parts) > 1 else ""
        if org not in user.orgs:
            return self._json(404, {"message": "Not Found"}, extra)
        with self.gh.lock:
            people = sorted(self.gh.users.values(), key=lambda u: u.login)
            if parts[2:] == ["members"]:
                items = [{"login": u.login, "id": u.id} for u in people if org in u.orgs]
            elif parts[2:] == ["teams"]:
                slugs = sorted({t for u in people for t in u.teams if t.startswith(f"{org}/")})
                items = [self.gh._team_json(t) for t in slugs]
            elif len(parts) == 5 and parts[2] == "teams" and parts[4] == "members":
                team = f"{org}/{parts[3]}"
                items = [{"login": u.login, "id": u.id} for u in people if team in u.teams]
            else:
                return self._json(404, {"message": "Not Found"}, extra)
        return self._paginated(path, params, items, extra)

    def _paginated(self, path, params, items, extra):
        """One page of `items`, with GitHub's Link header (next/last, prev/first) between pages."""
        per_page = min(max(_int(params.get("per_page"), 30), 1), 100)
        page = max(_int(params.get("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        rels = {"prev": page - 1, "first": 1} if page > 1 else {}
        if page < last:
            rels.update(next=page + 1, last=last)
        url = f"{self.gh.base_url}/api/v3{path}"
        links = [f'<{url}?{urlencode({"per_page": per_page, "page": n})}>; rel="{rel}"' for rel, n in rels.items()]
        headers = {**extra, "Link": ", ".join(links)} if links else extra
        self._json(200, items[(page - 1) * per_page:page * per_page], headers)

    # --- responses -----------------------------------------------------------------------------

    def _json(self, status, data, headers=None):
        self._send(status, "application/json; charset=utf-8", json.dumps(data).encode(), headers)

    def _send(self, status, content_type, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _add_query(url, params):
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))


def _pkce_ok(challenge, verifier):
    """RFC 7636 S256: the challenge is the unpadded base64url SHA-256 of the verifier."""
    if not challenge:
        return True  # the client did not use PKCE
    digest = hashlib.sha256(verifier.encode()).digest()
    return secrets.compare_digest(base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), challenge)


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default

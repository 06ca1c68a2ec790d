"""A small fake GitHub on loopback: OAuth sign-in, the user/org/team API, and repositories with pull requests.

Start it with `with FakeGitHub() as gh:`; the test session shares one (`fake_github` in conftest.py).

People: `add_user(login, id=None, name=None, email=None, orgs=(), teams=()) -> User`; `login_as(login)`
chooses who the OAuth web flow signs in; `issue_token(login, scopes=("read:org",)) -> str` gives a
token without it (of a user added first); `revoke_all()` forgets every token.

Repositories: `add_repo("owner/name", default_branch="main", private=True, writers=(), readers=())
-> Path` makes a real bare repository and returns its path (adding a name again starts it afresh);
`repos["owner/name"]` is its `Repo`, and `Repo.git(*args) -> str` runs git in it (to seed it, push
to that path from a tests.builders.GitRepo). Git's smart HTTP serves it at
`{base_url}/owner/name.git`, authenticated as at GitHub: HTTP Basic whose password is a token
(`x-access-token:<token>`; the username is ignored). Reading a private repository needs a reader's
or writer's token (401 without one, 404 for anyone else), every push a writer's (403 for a
reader). `add_deploy_token` gives a repository a token checked with a user name of its own, as
GitLab's deploy tokens are (401 under any other name), `add_bearer_token` one it takes only as Bearer, as
Bitbucket Data Center's project and repository tokens are. `pushes` lists (repo, login) of each push that changed a ref. Non-fast-forward pushes are
refused (receive.denyNonFastForwards, as a protected branch does), and `protect(repo, branch)`
refuses every push to that branch, as GitHub's protected branch hook does.

REST API under `{base_url}/api/v3` (`Authorization: token|Bearer <token>`; repositories ignore
scopes, as GitHub App installation tokens have none): `/user`, `/user/emails`, orgs and teams;
`GET /repos/{o}/{r}`, `.../branches/{branch}`, `.../git/ref/heads/{branch}`; pull requests:
`POST .../pulls`, `GET .../pulls?state=&head=owner:branch&base=`, `GET|PATCH .../pulls/{n}`,
`PUT .../pulls/{n}/merge`, `GET|POST .../issues/{n}/comments`, in GitHub's JSON field names and
error shapes (422 `{"message": "Validation Failed", "errors": [...]}`). `merge_pull(repo, number)
-> str` merges as GitHub's merge button does (always a merge commit) and returns its sha.
`requests` records (method, path, fields) of every request: the query plus a form or JSON body.

Webhooks: `add_hook(repo, url, secret)` delivers, signed as GitHub signs them, `pull_request` events
(closed, merged or not, and reopened) and the `push` of each merge to the base branch; pushes over git
are not delivered. `deliveries` lists (event, url, status).
"""
import base64
import hashlib
import hmac
import io
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .builders import GIT_ENV

# Scopes that let a token read org and team membership. GitHub's scopes nest (admin:org > write:org >
# read:org), so any of them will do.
ORG_SCOPES = {"read:org", "write:org", "admin:org"}
EMAIL_SCOPES = {"user", "user:email"}

REPO_NAME = re.compile(r"[\w-][\w.-]*/[\w-][\w.-]*")
# Git's smart HTTP: /owner/name.git/info/refs?service=..., then POSTs to the service itself. GitHub also
# answers without the ".git".
GIT_PATH = re.compile(r"/([\w-][\w.-]*)/([\w-][\w.-]*?)(?:\.git)?/(info/refs|git-upload-pack|git-receive-pack)")
# git runs this for each ref a push updates, with the ref's name first. Exiting non-zero refuses that
# ref alone, as GitHub's protected branch hook does, and git shows our message after "remote:".
PROTECT_HOOK = """#!/bin/sh
if grep -qxF "$1" "$GIT_DIR/protected-refs" 2>/dev/null; then
    echo "error: GH006: Protected branch update failed for $1." >&2
    exit 1
fi
"""
NOT_ACCESSIBLE = {"message": "Resource not accessible by integration"}


@dataclass
class User:
    login: str
    id: int
    name: str
    email: str
    orgs: tuple  # org logins
    teams: tuple  # "org/team-slug"


# Who merges a pull request when a test merges without saying who (merge_pull's `by`).
MAINTAINER = User("maintainer", 1, "Maintainer", "maintainer@example.com", (), ())


@dataclass
class Grant:
    """What one authorization code (and then its token) was issued for."""

    login: str
    scopes: tuple
    redirect_uri: str
    code_challenge: str = ""


@dataclass
class PullRequest:
    number: int
    id: int
    title: str
    body: str | None
    head: str  # branch names: the base in this repository, the head in it or in `head_repo`
    base: str
    user: dict  # {"login", "id"} of who opened it
    draft: bool
    head_sha: str  # followed while open; kept as it was when closed
    created_at: str
    state: str = "open"
    closed_at: str | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    merged_by: dict | None = None  # {"login", "id"} of who merged it
    comments: list = field(default_factory=list)  # GitHub's issue comment objects
    head_repo: str = ""  # "owner/name" of the fork the head branch is in; "" for this repository


@dataclass
class Repo:
    """A hosted repository: a real bare git repository, who may read and push it, and its pull requests."""

    full_name: str
    id: int
    path: Path
    default_branch: str
    private: bool
    writers: tuple
    readers: tuple
    protected: set = field(default_factory=set)  # branch names
    deploy_tokens: dict = field(default_factory=dict)  # token -> its user name
    bearer_tokens: set = field(default_factory=set)
    writing_tokens: set = field(default_factory=set)  # of those two kinds, the ones that may push
    pulls: dict = field(default_factory=dict)  # number -> PullRequest

    @property
    def owner(self):
        return self.full_name.split("/")[0]

    def can_read(self, login):
        return not self.private or self.can_push(login) or login in self.readers

    def can_push(self, login):
        return login in self.writers

    def git(self, *args, env=None) -> str:
        """Run git in the bare repository; its output, stripped. Raises CalledProcessError on failure."""
        return self.run(*args, env=env, check=True).stdout.strip()

    def run(self, *args, env=None, check=False) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "--git-dir", str(self.path), *args], env={**os.environ, **GIT_ENV, **(env or {})},
                              capture_output=True, text=True, check=check)

    def branch_sha(self, branch) -> str | None:
        # show-ref takes exact ref names only: "main~1" names no branch here, as at GitHub.
        found = self.run("show-ref", "--verify", "--hash", f"refs/heads/{branch}")
        return found.stdout.strip() if found.returncode == 0 else None

    def refs(self) -> str:
        return self.git("for-each-ref", "--format=%(objectname) %(refname)")


class FakeGitHub:
    """GitHub at `base_url`, as allauth's GitHub provider, git and a REST client see it.

    Usage: `with FakeGitHub() as gh: gh.add_user("ada", orgs=["acme"]); gh.login_as("ada")`.
    The browser side (`/login/oauth/authorize`) approves at once as the user chosen with `login_as`,
    as if they were signed in at GitHub and had already authorised the app.
    """

    def __init__(self, client_id="fake-client-id", client_secret="fake-client-secret"):
        self.client_id = client_id
        self.client_secret = client_secret
        # Reentrant: a merge through the API holds it across reading the pull request and merging.
        self.lock = threading.RLock()
        # Stable numeric ids, as GitHub gives users, orgs and teams.
        self._ids = itertools.count(1001)
        self._org_ids: dict[str, int] = {}
        self._team_ids: dict[str, int] = {}
        self._httpd = None
        self._thread = None
        self._root = None  # the folder of bare repositories, from start() to stop()
        self._forget()

    def reset(self):
        """Forget every account, token, repository and event: the session shares one fake, and each
        test starts from an empty GitHub (one test's pushes are not the next one's)."""
        with self.lock:
            for repo in self.repos.values():
                shutil.rmtree(repo.path, ignore_errors=True)
            self._forget()

    def _forget(self):
        self.users: dict[str, User] = {}
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, str] = {}  # token -> login
        self.grants: dict[str, Grant] = {}  # token -> grant, for the scopes the token carries
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, fields) of every request
        self.repos: dict[str, Repo] = {}  # "owner/name" -> Repo
        self.pushes: list[tuple[str, str]] = []  # (repo, login) of each push that changed a ref
        self.hooks: dict[str, list] = {}  # "owner/name" -> [(url, secret)]
        self.deliveries: list[tuple[str, str, int]] = []  # (event, url, status) of each webhook delivered
        self._outbox: list = []  # events waiting for the end of the request that caused them
        self.signed_in: str | None = None
        self.deny_next = False

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
        if login not in self.users:
            raise KeyError(f"no fake GitHub user {login!r}: add_user() first")
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

    def add_repo(self, full_name, default_branch="main", private=True, writers=(), readers=()) -> Path:
        """A new, empty bare repository "owner/name"; its path. Writers may also read. Adding a name again
        replaces that repository (and its pull requests and pushes), as the session shares one fake."""
        if not REPO_NAME.fullmatch(full_name):
            raise ValueError(f"not an owner/name: {full_name!r}")
        path = self._root / f"{full_name}.git"
        shutil.rmtree(path, ignore_errors=True)
        repo = Repo(full_name, next(self._ids), path, default_branch, private, tuple(writers), tuple(readers))
        subprocess.run(["git", "init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)],
                       env={**os.environ, **GIT_ENV}, check=True, capture_output=True)
        repo.git("config", "receive.denyNonFastForwards", "true")
        hook = path / "hooks" / "update"
        hook.write_text(PROTECT_HOOK)
        hook.chmod(0o755)
        with self.lock:
            self.repos[full_name] = repo
            self.pushes[:] = [push for push in self.pushes if push[0] != full_name]
        return path

    def add_deploy_token(self, full_name, username, token, writes=False):
        """A token that reads "owner/name" (and pushes to it, if `writes`) when sent with `username`, as a GitLab
        deploy token does."""
        with self.lock:
            self.repos[full_name].deploy_tokens[token] = username
            if writes:
                self.repos[full_name].writing_tokens.add(token)

    def add_bearer_token(self, full_name, token, writes=False):
        """A token that reads "owner/name" (and pushes to it, if `writes`) when sent as Bearer, as Bitbucket Data
        Center's project and repository tokens do (401 in Basic credentials)."""
        with self.lock:
            self.repos[full_name].bearer_tokens.add(token)
            if writes:
                self.repos[full_name].writing_tokens.add(token)

    def protect(self, full_name, branch):
        """Refuse every push to `branch` from now on (pull requests may still merge into it)."""
        repo = self.repos[full_name]
        with self.lock:
            repo.protected.add(branch)
            (repo.path / "protected-refs").write_text("".join(f"refs/heads/{b}\n" for b in sorted(repo.protected)))

    def merge_pull(self, full_name, number, by=None) -> str:
        """Merge an open pull request as GitHub's merge button does, as `by` (a login; a maintainer
        otherwise); the merge commit's sha. The repository's hooks get the pull_request and push events.
        Raises ValueError when it is not open or does not merge cleanly."""
        with self.lock:
            repo = self.repos[full_name]
            sha = self._merge(repo, repo.pulls[number], self.users.get(by) or MAINTAINER)
        self._deliver()
        return sha

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self):
        self._root = Path(tempfile.mkdtemp(prefix="fakegithub-"))
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
        shutil.rmtree(self._root, ignore_errors=True)

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

    def _merge(self, repo, pr, by) -> str:
        """1. merge-tree finds the merged tree of the base and head tips, or a conflict.
        2. commit-tree makes a merge commit of it, even where the base could fast-forward (GitHub's
           "merge" method always does).
        3. update-ref moves the base only if nobody moved it meanwhile; the pull request is merged."""
        if pr.head_repo:
            raise ValueError(f"pull request #{pr.number} is a fork's: the fake merges none")
        base_sha, head_sha = repo.branch_sha(pr.base), repo.branch_sha(pr.head)
        if pr.state != "open" or not base_sha or not head_sha:
            raise ValueError(f"pull request #{pr.number} is not open or lost a branch")
        merged = repo.run("merge-tree", "--write-tree", base_sha, head_sha)
        if merged.returncode != 0:
            raise ValueError(f"pull request #{pr.number} does not merge cleanly")
        tree = merged.stdout.split()[0]
        message = f"Merge pull request #{pr.number} from {repo.owner}/{pr.head}\n\n{pr.title}"
        github = {"GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com",
                  "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}
        commit = repo.git("commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message, env=github)
        repo.git("update-ref", f"refs/heads/{pr.base}", commit, base_sha)
        pr.state, pr.head_sha, pr.merge_commit_sha = "closed", head_sha, commit
        pr.closed_at = pr.merged_at = _now()
        pr.merged_by = {"login": by.login, "id": by.id}
        self._pull_event(repo, pr, "closed", by)
        self._push_event(repo, pr.base, base_sha, commit, by)
        return commit

    def _token_user(self, token) -> User | None:
        """Whose token this is, if it is one (of a user who still exists)."""
        with self.lock:
            return self.users.get(self.tokens.get(token))

    def _team_json(self, team):
        org, slug = team.split("/", 1)
        return {
            "id": self._team_ids.setdefault(team, next(self._ids)),
            "slug": slug,
            "name": slug,
            "organization": {"login": org, "id": self._org_id(org)},
        }


    # --- webhooks ------------------------------------------------------------------------------

    def add_hook(self, full_name, url, secret):
        """Deliver this repository's pull_request events, and the push of each merge, to `url`, signed with
        `secret` as GitHub signs them (X-Hub-Signature-256). Deliveries happen after the answer to the
        request that caused them, as at GitHub; `deliveries` lists (event, url, status) of each."""
        with self.lock:
            self.hooks.setdefault(full_name, []).append((url, secret))

    def _queue_event(self, repo, event, payload):
        """Queue an event for the repository's hooks (under the lock); `_deliver` sends them outside it."""
        for url, secret in self.hooks.get(repo.full_name, []):
            self._outbox.append((event, url, secret, json.dumps(payload).encode()))

    def _deliver(self):
        with self.lock:
            outbox, self._outbox[:] = list(self._outbox), []
        for event, url, secret, body in outbox:
            signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-GitHub-Event": event,
                "X-GitHub-Delivery": secrets.token_hex(8), "X-Hub-Signature-256": signature})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            with self.lock:
                self.deliveries.append((event, url, status))

    def _pull_event(self, repo, pr, action, sender):
        self._queue_event(repo, "pull_request", {
            "action": action, "number": pr.number, "pull_request": self._pull_json(repo, pr),
            "repository": self._repo_json(repo), "sender": {"login": sender.login, "id": sender.id}})

    def _push_event(self, repo, branch, before, after, sender):
        self._queue_event(repo, "push", {
            "ref": f"refs/heads/{branch}", "before": before, "after": after,
            "repository": self._repo_json(repo), "pusher": {"name": sender.login},
            "sender": {"login": sender.login, "id": sender.id}})

    # --- GitHub's JSON -------------------------------------------------------------------------

    def _pull_json(self, repo, pr, listed=False):
        """GitHub's pull request object. Only a single pull request's carries "merged"; lists have
        merged_at alone, so code that reads "merged" from a list fails here as it would there."""
        source = self.repos[pr.head_repo] if pr.head_repo else repo
        open_head = source.branch_sha(pr.head) if pr.state == "open" else None
        data = {
            "url": f"{self._api_url(repo)}/pulls/{pr.number}",
            "id": pr.id,
            "number": pr.number,
            "html_url": f"{self.base_url}/{repo.full_name}/pull/{pr.number}",
            "state": pr.state,
            "title": pr.title,
            "body": pr.body,
            "draft": pr.draft,
            "user": pr.user,
            "head": {"label": f"{source.owner}:{pr.head}", "ref": pr.head, "sha": open_head or pr.head_sha,
                     "repo": self._repo_json(source)},
            "base": {"label": f"{repo.owner}:{pr.base}", "ref": pr.base, "sha": repo.branch_sha(pr.base),
                     "repo": self._repo_json(repo)},
            "created_at": pr.created_at,
            "closed_at": pr.closed_at,
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
        }
        if not listed:
            data["merged"], data["merged_by"] = pr.merged_at is not None, pr.merged_by
        return data

    def _repo_json(self, repo):
        base = self.base_url
        return {
            "id": repo.id,
            "name": repo.full_name.split("/")[1],
            "full_name": repo.full_name,
            "owner": {"login": repo.owner},
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": f"{base}/{repo.full_name}",
            "clone_url": f"{base}/{repo.full_name}.git",
            "url": self._api_url(repo),
            "default_branch": repo.default_branch,
        }

    def _api_url(self, repo):
        return f"{self.base_url}/api/v3/repos/{repo.full_name}"


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

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_PUT(self):
        self._dispatch("PUT")

    def _dispatch(self, method):
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query))
        git = GIT_PATH.fullmatch(url.path)
        if git:
            self._record(method, url.path, params)
            return self._git(method, url.query, *git.groups())
        body = io.BytesIO()
        self._read_body(body)
        if url.path.startswith("/api/v3/"):
            try:
                fields = json.loads(body.getvalue() or b"{}")
            except ValueError:
                fields = None
            self._record(method, url.path, {**params, **fields} if isinstance(fields, dict) else params)
            if not isinstance(fields, dict):
                return self._json(400, {"message": "Problems parsing JSON"})
            return self._api(method, url.path.removeprefix("/api/v3"), params if method == "GET" else fields)
        # Form fields are recorded with the query so tests can see e.g. the code_verifier sent.
        params.update(parse_qsl(body.getvalue().decode()))
        self._record(method, url.path, params)
        route = (method, url.path)
        if route == ("GET", "/login/oauth/authorize"):
            return self._authorize(params)
        if route == ("POST", "/login/oauth/access_token"):
            return self._access_token(params)
        self._json(404, {"message": "Not Found"})

    def _record(self, method, path, fields):
        with self.gh.lock:
            self.gh.requests.append((method, path, fields))

    def _read_body(self, out):
        """Copy the request body to `out`: Content-Length bytes, or the chunks of a chunked upload (as git
        sends pushes bigger than its http.postBuffer)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(self.rfile.readline().split(b";")[0], 16):
                _copy(self.rfile, out, size)
                self.rfile.readline()  # the CRLF that ends each chunk
            while self.rfile.readline().strip():  # trailers, up to the blank line
                pass
        else:
            _copy(self.rfile, out, int(self.headers.get("Content-Length") or 0))

    # --- git smart HTTP ------------------------------------------------------------------------

    def _git(self, method, query, owner, name, endpoint):
        """Clone, fetch and push through `git http-backend`, once GitHub's checks let this token in."""
        gh = self.gh
        with gh.lock:
            repo = gh.repos.get(f"{owner}/{name}")
        service = dict(parse_qsl(query)).get("service") if endpoint == "info/refs" else endpoint
        with tempfile.TemporaryFile() as body:
            # Read first: answering while the client still sends would reset the connection under it.
            self._read_body(body)
            if repo is None or service not in ("git-upload-pack", "git-receive-pack"):
                return self._send(404, "text/plain", b"Repository not found.\n")
            token = self._basic_password()
            pushing = service == "git-receive-pack"
            scheme, _, bearer = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer" or token in repo.bearer_tokens:  # it reads, as Bearer only
                if bearer.strip() not in repo.bearer_tokens:
                    return self._send(401, "text/plain", b"Authentication failed.\n",
                                      {"WWW-Authenticate": 'Bearer realm="Bitbucket"'})
                if pushing and bearer.strip() not in repo.writing_tokens:
                    return self._send(403, "text/plain", b"You are not permitted to push to this repository.\n")
                login = "project-token"
            elif token in repo.deploy_tokens:  # it reads, under its own name only
                login = repo.deploy_tokens[token]
                if self._basic_user() != login:
                    return self._send(401, "text/plain", b"HTTP Basic: Access denied.\n",
                                      {"WWW-Authenticate": 'Basic realm="GitLab"'})
                if pushing and token not in repo.writing_tokens:
                    return self._send(403, "text/plain", b"You are not allowed to push code to this project.\n")
            else:
                user = gh._token_user(token)
                login = user and user.login
                if (token is not None and user is None) or (user is None and (pushing or repo.private)):
                    return self._send(401, "text/plain", b"Invalid username or token.\n",
                                      {"WWW-Authenticate": 'Basic realm="GitHub"'})
                if not repo.can_read(login):
                    return self._send(404, "text/plain", b"Repository not found.\n")
                if pushing and not repo.can_push(login):
                    denied = f"Permission to {repo.full_name}.git denied to {login}.\n"
                    return self._send(403, "text/plain", denied.encode())
            env = {
                **os.environ,
                **GIT_ENV,
                "GIT_PROJECT_ROOT": str(gh._root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": f"/{repo.full_name}.git/{endpoint}",
                "QUERY_STRING": query,
                "REQUEST_METHOD": method,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(body.tell()),
                "REMOTE_ADDR": self.client_address[0],
                "REMOTE_USER": login or "",
                # http-backend takes pushes from any REMOTE_USER unless told otherwise; say it outright,
                # as the checks above decided who may push.
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": "http.receivepack",
                "GIT_CONFIG_VALUE_0": "true",
            }
            # A gzipped request body (git compresses big fetch negotiations), which http-backend inflates,
            # and the protocol version git asks for.
            for header in ("Content-Encoding", "Git-Protocol"):
                if header in self.headers:
                    env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
            body.seek(0)
            before = repo.refs() if pushing else None
            self._cgi(body, env)
        if pushing and repo.refs() != before:
            with gh.lock:
                gh.pushes.append((repo.full_name, login))

    def _cgi(self, body, env):
        """Run git http-backend on the request body and stream its answer: CGI headers up to a blank line
        (a "Status:" one for anything but 200), then the body, which ends when the connection closes."""
        with subprocess.Popen(["git", "http-backend"], stdin=body, stdout=subprocess.PIPE, env=env) as cgi:
            status, headers = 200, []
            for line in iter(cgi.stdout.readline, b""):
                name, _, value = line.decode("latin-1").partition(":")
                if not name.strip():
                    break
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            shutil.copyfileobj(cgi.stdout, self.wfile)

    def _basic_user(self) -> str:
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
        except ValueError:
            return ""

    def _basic_password(self) -> str | None:
        """The password of HTTP Basic credentials, which GitHub takes as the token; None without any."""
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[2]
        except ValueError:  # not base64, or not UTF-8: credentials, but no token
            return ""

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

    def _api(self, method, path, params):
        """`params` are the query of a GET, the JSON body of anything else."""
        gh = self.gh
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if not token or scheme.lower() not in ("token", "bearer"):
            return self._json(401, {"message": "Requires authentication"})
        with gh.lock:
            user, grant = gh._token_user(token.strip()), gh.grants.get(token.strip())
        if user is None or grant is None:
            return self._json(401, {"message": "Bad credentials"})
        scopes = set(grant.scopes)
        extra = {"X-OAuth-Scopes": ", ".join(grant.scopes)}
        if path.startswith("/repos/"):
            return self._repo_api(method, path, params, user, extra)
        if method != "GET":
            return self._json(404, {"message": "Not Found"}, extra)

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

    # --- repositories and pull requests --------------------------------------------------------

    def _repo_api(self, method, path, params, user, extra):
        """A repository's routes; then the webhooks they caused are delivered, after the answer, as at GitHub."""
        self._repo_route(method, path, params, user, extra)
        self.gh._deliver()

    def _repo_route(self, method, path, params, user, extra):
        """One this user may not see is 404, as if it did not exist, as at GitHub. Each route answers
        (status, JSON); a list is paginated."""
        found = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        # Holding the lock makes each answer consistent (no pull request opened twice, for instance).
        with self.gh.lock:
            repo = self.gh.repos.get(found[1]) if found else None
            if repo is None or not repo.can_read(user.login):
                return self._json(404, {"message": "Not Found"}, extra)
            for route_method, pattern, route in self.REPO_ROUTES:
                args = re.fullmatch(pattern, found[2] or "")
                if args and route_method == method:
                    status, data = route(self, repo, user, params, **args.groupdict())
                    break
            else:
                return self._json(404, {"message": "Not Found"}, extra)
        if isinstance(data, list):
            return self._paginated(path, params, data, extra)
        self._json(status, data, extra)

    def _get_repo(self, repo, user, params):
        permissions = {"admin": False, "push": repo.can_push(user.login), "pull": True}
        return 200, {**self.gh._repo_json(repo), "permissions": permissions}

    def _get_branch(self, repo, user, params, branch):
        branch = unquote(branch)
        sha = repo.branch_sha(branch)
        if sha is None:
            return 404, {"message": "Branch not found"}
        api = self.gh._api_url(repo)
        commit = {"sha": sha, "url": f"{api}/commits/{sha}"}
        return 200, {"name": branch, "commit": commit, "protected": branch in repo.protected}

    def _get_ref(self, repo, user, params, branch):
        branch = unquote(branch)
        sha = repo.branch_sha(branch)
        if sha is None:
            return 404, {"message": "Not Found"}
        api = self.gh._api_url(repo)
        return 200, {
            "ref": f"refs/heads/{branch}",
            "url": f"{api}/git/refs/heads/{branch}",
            "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"},
        }

    def _list_pulls(self, repo, user, params):
        """Newest first, as GitHub sorts by default. A `head` without "owner:" filters nothing: GitHub
        silently ignores it, a classic mistake the fake should not hide."""
        state, head, base = params.get("state", "open"), params.get("head", ""), params.get("base")
        return 200, [
            self.gh._pull_json(repo, pr, listed=True) for pr in reversed(repo.pulls.values())
            if state in ("all", pr.state)
            and (":" not in head or head == f"{(pr.head_repo or repo.full_name).split('/')[0]}:{pr.head}")
            and base in (None, pr.base)
        ]

    def _create_pull(self, repo, user, params):
        missing = [name for name in ("title", "head", "base") if not isinstance(params.get(name) or None, str)]
        if missing:
            return _invalid(*({"resource": "PullRequest", "field": name, "code": "missing_field"} for name in missing))
        owner, _, head = params["head"].rpartition(":")
        base = params["base"]
        # "owner:branch" names a branch of owner's fork: here, their repository of the same name.
        source = repo if owner in ("", repo.owner) else self.gh.repos.get(f"{owner}/{repo.full_name.split('/')[1]}")
        head_sha = source.branch_sha(head) if source else None
        if head_sha is None:
            return _invalid({"resource": "PullRequest", "field": "head", "code": "invalid"})
        base_sha = repo.branch_sha(base)
        if base_sha is None:
            return _invalid({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if repo.run("merge-base", "--is-ancestor", head_sha, base_sha).returncode == 0:  # also head == base
            return _invalid({"resource": "PullRequest", "code": "custom",
                             "message": f"No commits between {base} and {head}"})
        if self._open_pull(repo, head, base):
            return _already_exists(repo, head)
        pr = PullRequest(
            number=len(repo.pulls) + 1, id=next(self.gh._ids), title=params["title"], body=params.get("body"),
            head=head, base=base, user={"login": user.login, "id": user.id}, draft=bool(params.get("draft")),
            head_sha=head_sha, created_at=_now(), head_repo="" if source is repo else source.full_name,
        )
        repo.pulls[pr.number] = pr
        return 201, self.gh._pull_json(repo, pr)

    def _get_pull(self, repo, user, params, number):
        pr = repo.pulls.get(int(number))
        return (200, self.gh._pull_json(repo, pr)) if pr else (404, {"message": "Not Found"})

    def _edit_pull(self, repo, user, params, number):
        """Title, body and state (closed, or open again) of a pull request, by its author or a writer."""
        pr = repo.pulls.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}
        if user.login != pr.user["login"] and not repo.can_push(user.login):
            return 403, NOT_ACCESSIBLE
        state = params.get("state", pr.state)
        if state not in ("open", "closed"):
            return _invalid({"resource": "PullRequest", "field": "state", "code": "invalid"})
        if state != pr.state:
            if pr.merged_at:
                return _invalid({"resource": "PullRequest", "code": "custom", "field": "state",
                                 "message": "state cannot be changed. The pull request has been merged."})
            if state == "open" and self._open_pull(repo, pr.head, pr.base):
                return _already_exists(repo, pr.head)
            if state == "closed":
                pr.head_sha = repo.branch_sha(pr.head) or pr.head_sha
            pr.state, pr.closed_at = state, _now() if state == "closed" else None
            self.gh._pull_event(repo, pr, "closed" if state == "closed" else "reopened", user)
        pr.title, pr.body = params.get("title", pr.title), params.get("body", pr.body)
        return 200, self.gh._pull_json(repo, pr)

    def _merge_pull(self, repo, user, params, number):
        pr = repo.pulls.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}
        if not repo.can_push(user.login):
            return 403, NOT_ACCESSIBLE
        if params.get("merge_method", "merge") != "merge":
            return _invalid({"resource": "PullRequest", "field": "merge_method", "code": "invalid",
                             "message": "the fake GitHub merges with merge_method \"merge\" only"})
        if params.get("sha") not in (None, repo.branch_sha(pr.head)):
            return 409, {"message": "Head branch was modified. Review and try the merge again."}
        try:
            sha = self.gh._merge(repo, pr, user)
        except ValueError:
            return 405, {"message": "Pull Request is not mergeable"}
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    def _list_comments(self, repo, user, params, number):
        pr = repo.pulls.get(int(number))
        return (200, list(pr.comments)) if pr else (404, {"message": "Not Found"})

    def _comment(self, repo, user, params, number):
        pr = repo.pulls.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}
        if not isinstance(params.get("body"), str) or not params["body"]:
            return _invalid({"resource": "IssueComment", "field": "body", "code": "missing_field"})
        comment_id, now = next(self.gh._ids), _now()
        comment = {
            "id": comment_id,
            "html_url": f"{self.gh.base_url}/{repo.full_name}/pull/{pr.number}#issuecomment-{comment_id}",
            "body": params["body"],
            "user": {"login": user.login, "id": user.id},
            "created_at": now,
            "updated_at": now,
        }
        pr.comments.append(comment)
        return 201, comment

    REPO_ROUTES = [  # (method, pattern of the path after /repos/{owner}/{repo}, route)
        ("GET", r"", _get_repo),
        ("GET", r"/branches/(?P<branch>.+)", _get_branch),
        ("GET", r"/git/ref/heads/(?P<branch>.+)", _get_ref),
        ("GET", r"/pulls", _list_pulls),
        ("POST", r"/pulls", _create_pull),
        ("GET", r"/pulls/(?P<number>\d+)", _get_pull),
        ("PATCH", r"/pulls/(?P<number>\d+)", _edit_pull),
        ("PUT", r"/pulls/(?P<number>\d+)/merge", _merge_pull),
        ("GET", r"/issues/(?P<number>\d+)/comments", _list_comments),
        ("POST", r"/issues/(?P<number>\d+)/comments", _comment),
    ]

    def _open_pull(self, repo, head, base):
        return any(pr.state == "open" and (pr.head, pr.base) == (head, base) for pr in repo.pulls.values())

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
        # Each link keeps the request's other parameters (a pull request list's filters).
        links = [f'<{url}?{urlencode({**params, "per_page": per_page, "page": n})}>; rel="{rel}"'
                 for rel, n in rels.items()]
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


def _copy(source, target, size):
    """Copy exactly `size` bytes, a piece at a time."""
    while size > 0:
        data = source.read(min(size, 1 << 16))
        if not data:
            raise ConnectionError("the request body ended early")
        target.write(data)
        size -= len(data)


def _invalid(*errors):
    """GitHub's 422 for a request that names something wrong."""
    return 422, {"message": "Validation Failed", "errors": list(errors)}


def _already_exists(repo, head):
    return _invalid({"resource": "PullRequest", "code": "custom",
                     "message": f"A pull request already exists for {repo.owner}:{head}."})


def _now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default

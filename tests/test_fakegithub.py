"""The fake GitHub itself, driven over HTTP the way allauth's GitHub provider drives the real one."""
import base64
import gzip
import hashlib
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests

from .builders import GIT_ENV, GitRepo
from .fakegithub import FakeGitHub

CALLBACK = "http://testserver/accounts/github/login/callback/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None  # hand the 302 back to the test instead of following it


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url, form=None, headers=None):
    """(status, headers, body) of one request; a form makes it a POST, as allauth's token request."""
    data = urlencode(form).encode() if form is not None else None
    try:
        with _opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=5) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


def api(gh, path, token, scheme="token"):
    status, headers, body = fetch(f"{gh.base_url}/api/v3{path}", headers={"Authorization": f"{scheme} {token}"})
    return status, headers, json.loads(body)


def authorize(gh, scope="read:org user:email", state="st4te", **extra):
    """The browser leg: returns the query GitHub redirected back to the callback with."""
    query = {"client_id": gh.client_id, "redirect_uri": CALLBACK, "scope": scope, "response_type": "code", "state": state}
    query.update(extra)
    status, headers, _ = fetch(f"{gh.base_url}/login/oauth/authorize?{urlencode(query)}")
    assert status == 302
    location = headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return dict(parse_qsl(urlsplit(location).query))


def exchange(gh, code, secret=None, accept="application/json", **extra):
    form = {
        "redirect_uri": CALLBACK,
        "grant_type": "authorization_code",
        "code": code,
        "client_id": gh.client_id,
        "client_secret": secret or gh.client_secret,
        **extra,
    }
    status, headers, body = fetch(f"{gh.base_url}/login/oauth/access_token", form, {"Accept": accept})
    assert status == 200  # GitHub answers 200 even for errors; the body says what went wrong
    return json.loads(body)


def sign_in(gh, scope="read:org user:email"):
    return exchange(gh, authorize(gh, scope)["code"])["access_token"]


@pytest.fixture
def gh():
    with FakeGitHub() as server:
        server.add_user("ada", id=42, name="Ada Lovelace", orgs=["acme"], teams=["acme/core", "widgets/ops"])
        server.add_user("eve")
        server.login_as("ada")
        yield server


def test_code_flow_signs_in_the_chosen_user(gh):
    back = authorize(gh, scope="read:org user:email", state="abc")
    assert back["state"] == "abc" and back["code"]
    # Tests of the app assert on the scope it asked for through the recorded requests.
    method, path, params = gh.requests[-1]
    assert (method, path, params["scope"]) == ("GET", "/login/oauth/authorize", "read:org user:email")

    token = exchange(gh, back["code"])
    assert token["token_type"] == "bearer"
    assert token["scope"] == "read:org,user:email"  # GitHub reports granted scopes comma-separated
    assert gh.tokens[token["access_token"]] == "ada"

    status, _, user = api(gh, "/user", token["access_token"])
    assert status == 200
    assert (user["id"], user["login"], user["name"], user["email"]) == (42, "ada", "Ada Lovelace", "ada@example.com")
    assert user["html_url"] == f"{gh.base_url}/ada"
    assert user["avatar_url"].startswith(gh.base_url)


def test_api_for_the_signed_in_user(gh):
    token = sign_in(gh)
    # allauth sends "token <t>"; newer clients send "Bearer <t>": both work, as at GitHub.
    status, headers, emails = api(gh, "/user/emails", token, scheme="Bearer")
    assert status == 200
    assert emails == [{"email": "ada@example.com", "primary": True, "verified": True, "visibility": "public"}]
    assert headers["X-OAuth-Scopes"] == "read:org, user:email"

    status, _, orgs = api(gh, "/user/orgs", token)
    assert [org["login"] for org in orgs] == ["acme", "widgets"]  # a team's org counts as membership
    assert all(isinstance(org["id"], int) for org in orgs)

    status, _, membership = api(gh, "/user/memberships/orgs/acme", token)
    assert status == 200
    assert (membership["state"], membership["role"], membership["organization"]["login"]) == ("active", "member", "acme")
    status, _, _ = api(gh, "/user/memberships/orgs/initech", token)
    assert status == 404

    status, _, teams = api(gh, "/user/teams", token)
    assert [(t["organization"]["login"], t["slug"]) for t in teams] == [("acme", "core"), ("widgets", "ops")]


def test_another_user_sees_their_own_data(gh):
    gh.login_as("eve")
    token = sign_in(gh)
    assert api(gh, "/user", token)[2]["login"] == "eve"
    assert api(gh, "/user/orgs", token)[2] == []
    assert api(gh, "/user/memberships/orgs/acme", token)[0] == 404


def test_teams_paginate_with_link_headers(gh):
    gh.add_user("grace", teams=[f"acme/team-{n}" for n in range(5)])
    gh.login_as("grace")
    token = sign_in(gh)

    url, pages, slugs = f"{gh.base_url}/api/v3/user/teams?per_page=2", 0, []
    while url:
        status, headers, body = fetch(url, headers={"Authorization": f"token {token}"})
        assert status == 200
        pages += 1
        slugs += [team["slug"] for team in json.loads(body)]
        next_link = re.search(r'<([^>]+)>; rel="next"', headers.get("Link") or "")
        url = next_link and next_link.group(1)
    assert pages == 3
    assert slugs == [f"team-{n}" for n in range(5)]
    assert 'rel="last"' not in headers["Link"] and 'rel="prev"' in headers["Link"]

    # Thirty a page by default: everything fits, so there is no Link header at all.
    status, headers, teams = api(gh, "/user/teams", token)
    assert len(teams) == 5 and headers["Link"] is None


def test_token_response_is_form_encoded_unless_json_is_asked_for(gh):
    # allauth sends requests' default `Accept: */*` and parses whichever format comes back.
    code = authorize(gh)["code"]
    status, headers, body = fetch(
        f"{gh.base_url}/login/oauth/access_token",
        {"client_id": gh.client_id, "client_secret": gh.client_secret, "code": code, "redirect_uri": CALLBACK},
        {"Accept": "*/*"},
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    token = dict(parse_qsl(body))
    assert token["scope"] == "read:org,user:email" and token["access_token"] in gh.tokens


def test_a_code_works_once(gh):
    code = authorize(gh)["code"]
    assert "access_token" in exchange(gh, code)
    assert exchange(gh, code) == {"error": "bad_verification_code"}
    assert exchange(gh, "made-up") == {"error": "bad_verification_code"}


def test_bad_client_secret_is_refused(gh):
    code = authorize(gh)["code"]
    assert exchange(gh, code, secret="wrong") == {"error": "incorrect_client_credentials"}
    assert gh.tokens == {}


def test_redirect_uri_must_match_the_authorize_request(gh):
    code = authorize(gh)["code"]
    assert exchange(gh, code, redirect_uri="http://evil.example/cb") == {"error": "redirect_uri_mismatch"}


def test_pkce_verifier_is_checked(gh):
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    assert exchange(gh, authorize(gh, **pkce)["code"], code_verifier="w" * 50) == {"error": "bad_verification_code"}
    assert "access_token" in exchange(gh, authorize(gh, **pkce)["code"], code_verifier=verifier)


def test_api_needs_a_valid_token(gh):
    status, _, body = fetch(f"{gh.base_url}/api/v3/user")
    assert (status, json.loads(body)) == (401, {"message": "Requires authentication"})
    status, _, body = api(gh, "/user", "gho_made_up")
    assert (status, body) == (401, {"message": "Bad credentials"})

    token = sign_in(gh)
    assert api(gh, "/user", token)[0] == 200
    gh.revoke_all()
    assert api(gh, "/user", token)[0] == 401


def test_scopes_limit_the_api(gh):
    token = sign_in(gh, scope="")
    assert api(gh, "/user", token)[0] == 200
    assert api(gh, "/user/emails", token)[0] == 404  # GitHub's answer without user:email
    for path in ("/user/orgs", "/user/teams", "/user/memberships/orgs/acme"):
        status, headers, _ = api(gh, path, token)
        assert (status, headers["X-Accepted-OAuth-Scopes"]) == (403, "read:org"), path


def test_unknown_paths_are_404(gh):
    token = sign_in(gh)
    status, _, body = api(gh, "/repos/acme/widgets", token)
    assert (status, body) == (404, {"message": "Not Found"})
    status, _, body = fetch(f"{gh.base_url}/settings/profile")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


def test_deny_next_refuses_once(gh):
    gh.deny_next = True
    back = authorize(gh, state="s1")
    assert (back["error"], back["state"]) == ("access_denied", "s1")
    assert "code" not in back
    assert "code" in authorize(gh)  # only the next request is denied


def test_authorize_needs_a_signed_in_user_and_a_known_app(gh):
    gh.login_as(None)
    query = urlencode({"client_id": gh.client_id, "redirect_uri": CALLBACK, "state": "s"})
    assert fetch(f"{gh.base_url}/login/oauth/authorize?{query}")[0] == 403
    gh.login_as("ada")
    query = urlencode({"client_id": "someone-else", "redirect_uri": CALLBACK, "state": "s"})
    assert fetch(f"{gh.base_url}/login/oauth/authorize?{query}")[0] == 404
    with pytest.raises(KeyError):
        gh.login_as("nobody")


def test_callback_query_is_kept(gh):
    query = urlencode({"client_id": gh.client_id, "redirect_uri": CALLBACK + "?next=/x", "state": "s"})
    status, headers, _ = fetch(f"{gh.base_url}/login/oauth/authorize?{query}")
    assert status == 302
    assert parse_qs(urlsplit(headers["Location"]).query).keys() == {"next", "code", "state"}


# --- repositories: git's smart HTTP ----------------------------------------------------------------

@pytest.fixture
def market(gh, tmp_path):
    """acme/market, private: ada writes, eve reads, mallory is an outsider. Its main holds a README,
    pushed from `seed`, the GitRepo this returns."""
    gh.add_user("mallory")
    path = gh.add_repo("acme/market", writers=["ada"], readers=["eve"])
    seed = GitRepo(tmp_path / "seed")
    seed.commit({"README.md": "hello\n"})
    seed.git("push", "--quiet", str(path), "main")
    return seed


def git(*args, token=None, env=None):
    """(exit code, stderr) of git as a client of the fake; a token goes as Skillport sends it, in an
    Authorization header of HTTP Basic credentials x-access-token:<token>."""
    auth = []
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        auth = ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
    done = subprocess.run(["git", *auth, *args], capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, "GIT_TERMINAL_PROMPT": "0", **(env or {})})
    return done.returncode, done.stderr


def clone(gh, tmp_path, token, repo="acme/market"):
    code, err = git("clone", "--quiet", f"{gh.base_url}/{repo}.git", str(tmp_path / "clone"), token=token)
    assert code == 0, err
    return GitRepo(tmp_path / "clone")


def push_branch(gh, seed, branch, files, repo="acme/market"):
    """One commit of `files` on `branch` (new ones start from main), pushed straight into the bare
    repository; its sha."""
    known = branch in seed.git("branch", "--format=%(refname:short)").split()
    seed.git("checkout", "--quiet", *([branch] if known else ["-b", branch, "main"]))
    sha = seed.commit(files, message=f"on {branch}")
    seed.git("push", "--quiet", str(gh.repos[repo].path), branch)
    seed.git("checkout", "--quiet", "main")
    return sha


def test_private_repo_clones_with_a_readers_token_only(gh, market, tmp_path):
    url = f"{gh.base_url}/acme/market.git"
    for token in (None, "made-up"):  # a 401 asking for credentials, which git cannot prompt for here
        code, err = git("clone", url, str(tmp_path / "refused"), token=token)
        assert code != 0 and "could not read Username" in err
    code, err = git("clone", url, str(tmp_path / "refused"), token=gh.issue_token("mallory"))
    assert code != 0 and "not found" in err  # a 404, as if the repository did not exist
    assert not (tmp_path / "refused").exists()
    refs = f"{url}/info/refs?service=git-upload-pack"
    answer = requests.get(refs, timeout=10)
    assert (answer.status_code, answer.headers["WWW-Authenticate"]) == (401, 'Basic realm="GitHub"')
    assert requests.get(refs, auth=("x-access-token", "made-up"), timeout=10).status_code == 401

    reader = clone(gh, tmp_path, gh.issue_token("eve"))
    assert (reader.path / "README.md").read_text() == "hello\n" and reader.head == market.head

    # Credentials in the URL work too: git sends them after the first 401.
    token = gh.issue_token("ada")
    code, err = git("clone", gh.base_url.replace("//", f"//x-access-token:{token}@") + "/acme/market.git",
                    str(tmp_path / "url"))
    assert code == 0, err


def test_public_repo_reads_without_a_token_but_pushes_with_a_writers(gh, tmp_path):
    gh.add_user("mallory")
    path = gh.add_repo("acme/open", private=False, writers=["ada"])
    seed = GitRepo(tmp_path / "seed")
    seed.commit({"a": "1"})
    seed.git("push", "--quiet", str(path), "main")
    work = clone(gh, tmp_path, None, repo="acme/open")
    work.commit({"a": "2"})
    assert git("-C", str(work.path), "push", "origin", "main")[0] != 0
    assert git("-C", str(work.path), "push", "origin", "main", token=gh.issue_token("mallory"))[0] != 0
    assert gh.pushes == []
    assert git("-C", str(work.path), "push", "origin", "main", token=gh.issue_token("ada"))[0] == 0
    assert gh.pushes == [("acme/open", "ada")]


def test_writers_push_readers_do_not(gh, market, tmp_path):
    ada, eve = gh.issue_token("ada"), gh.issue_token("eve")
    work = clone(gh, tmp_path, eve)
    work.git("checkout", "--quiet", "-b", "skillport/publish")
    sha = work.commit({"plugins/x/README.md": "x\n"})

    code, err = git("-C", str(work.path), "push", "origin", "skillport/publish", token=eve)
    assert code != 0 and "403" in err
    assert gh.repos["acme/market"].branch_sha("skillport/publish") is None and gh.pushes == []

    code, err = git("-C", str(work.path), "push", "origin", "skillport/publish", token=ada)
    assert code == 0, err
    assert gh.repos["acme/market"].branch_sha("skillport/publish") == sha
    assert gh.pushes == [("acme/market", "ada")]
    # Pushing what is already there changes no ref, so it is no push.
    assert git("-C", str(work.path), "push", "origin", "skillport/publish", token=ada)[0] == 0
    assert gh.pushes == [("acme/market", "ada")]


def test_non_fast_forward_pushes_are_refused_even_forced(gh, market, tmp_path):
    token = gh.issue_token("ada")
    work = clone(gh, tmp_path, token)
    moved = push_branch(gh, market, "main", {"NEWS": "someone else\n"})  # main moves on at GitHub
    work.commit({"README.md": "mine\n"})
    code, err = git("-C", str(work.path), "push", "--force", "origin", "main", token=token)
    assert code != 0 and "non-fast-forward" in err
    assert gh.repos["acme/market"].branch_sha("main") == moved and gh.pushes == []


def test_protected_branches_refuse_pushes(gh, market, tmp_path):
    token = gh.issue_token("ada")
    gh.protect("acme/market", "main")
    work = clone(gh, tmp_path, token)
    sha = work.commit({"README.md": "fast-forward\n"})
    work.git("branch", "feature")
    # One push of two branches: the protected one is refused, the other lands, as at GitHub.
    code, err = git("-C", str(work.path), "push", "origin", "main", "feature", token=token)
    assert code != 0 and "GH006: Protected branch update failed for refs/heads/main" in err
    repo = gh.repos["acme/market"]
    assert repo.branch_sha("main") == market.head and repo.branch_sha("feature") == sha
    assert gh.pushes == [("acme/market", "ada")]


def test_big_pushes_arrive_in_chunks(gh, market, tmp_path):
    token = gh.issue_token("ada")
    work = clone(gh, tmp_path, token)
    work.commit({"big.bin": os.urandom(3 << 20)})  # more than git's 1 MiB http.postBuffer
    code, err = git("-C", str(work.path), "push", "origin", "main", token=token,
                    env={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"})
    assert code == 0, err
    assert "Transfer-Encoding: chunked" in err
    assert gh.repos["acme/market"].git("cat-file", "-s", "main:big.bin") == str(3 << 20)


def test_gzipped_and_chunked_request_bodies(gh, market):
    # ls-refs in git's protocol v2, gzipped as git sends big requests, and sent in chunks by requests.
    request = gzip.compress(b"0014command=ls-refs\n0000")
    answer = requests.post(
        f"{gh.base_url}/acme/market.git/git-upload-pack",
        data=iter([request[:7], request[7:]]),
        auth=("x-access-token", gh.issue_token("eve")),
        headers={"Content-Encoding": "gzip", "Git-Protocol": "version=2",
                 "Content-Type": "application/x-git-upload-pack-request"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert f"{market.head} refs/heads/main" in answer.text


def test_unknown_repositories_are_404(gh, market):
    for path in ("/acme/nothing.git/info/refs?service=git-upload-pack", "/acme/market.git/info/refs"):
        answer = requests.get(gh.base_url + path, auth=("x", gh.issue_token("ada")), timeout=10)
        assert answer.status_code == 404, path


# --- repositories and pull requests: the REST API ----------------------------------------------

def rest(gh, method, path, token, body=None, **params):
    """(status, JSON) of one REST call."""
    answer = requests.request(method, f"{gh.base_url}/api/v3{path}", json=body, params=params, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, answer.json()


def open_pull(gh, token, head="publish", base="main", title="Publish", **extra):
    return rest(gh, "POST", "/repos/acme/market/pulls", token, {"title": title, "head": head, "base": base, **extra})


def test_repository_branches_and_refs(gh, market):
    ada, eve, mallory = (gh.issue_token(login) for login in ("ada", "eve", "mallory"))
    status, repo = rest(gh, "GET", "/repos/acme/market", ada)
    assert status == 200
    assert (repo["full_name"], repo["default_branch"], repo["private"]) == ("acme/market", "main", True)
    assert repo["permissions"]["push"] is True and isinstance(repo["id"], int)
    assert rest(gh, "GET", "/repos/acme/market", eve)[1]["permissions"]["push"] is False
    assert rest(gh, "GET", "/repos/acme/market", mallory) == (404, {"message": "Not Found"})

    sha = push_branch(gh, market, "skillport/publish", {"x": "1"})
    status, branch = rest(gh, "GET", "/repos/acme/market/branches/skillport/publish", eve)
    assert (status, branch["name"], branch["commit"]["sha"]) == (200, "skillport/publish", sha)
    assert branch["protected"] is False
    for missing in ("nope", "skillport/publish~1", "main@{0}"):
        assert rest(gh, "GET", f"/repos/acme/market/branches/{missing}", eve)[0] == 404, missing
    gh.protect("acme/market", "main")
    assert rest(gh, "GET", "/repos/acme/market/branches/main", eve)[1]["protected"] is True

    status, ref = rest(gh, "GET", "/repos/acme/market/git/ref/heads/main", eve)
    assert (status, ref["ref"], ref["object"]["sha"]) == (200, "refs/heads/main", market.head)
    assert ref["object"]["type"] == "commit"
    assert rest(gh, "GET", "/repos/acme/market/git/ref/heads/nope", eve)[0] == 404


def test_open_a_pull_request(gh, market):
    sha = push_branch(gh, market, "publish", {"plugins/x/README.md": "x\n"})
    status, pr = open_pull(gh, gh.issue_token("ada"), body="Two skills changed.")
    assert status == 201
    assert pr["number"] == 1 and pr["html_url"] == f"{gh.base_url}/acme/market/pull/1"
    assert (pr["state"], pr["title"], pr["body"]) == ("open", "Publish", "Two skills changed.")
    assert pr["draft"] is False and pr["merged"] is False
    assert (pr["head"]["ref"], pr["head"]["sha"], pr["base"]["ref"]) == ("publish", sha, "main")
    assert pr["base"]["sha"] == market.head and pr["user"]["login"] == "ada"
    assert gh.repos["acme/market"].pulls[1].title == "Publish"
    # The request is recorded with its JSON body, for tests of what a client sent.
    sent = {"title": "Publish", "head": "publish", "base": "main", "body": "Two skills changed."}
    assert gh.requests[-1] == ("POST", "/api/v3/repos/acme/market/pulls", sent)

    # The head may be named "owner:branch"; the head's sha follows the branch while the pull is open.
    moved = push_branch(gh, market, "publish", {"plugins/x/README.md": "x2\n"})
    status, pr = rest(gh, "GET", "/repos/acme/market/pulls/1", gh.issue_token("eve"))
    assert (status, pr["head"]["sha"]) == (200, moved)
    assert rest(gh, "GET", "/repos/acme/market/pulls/9", gh.issue_token("eve"))[0] == 404
    assert open_pull(gh, gh.issue_token("mallory"))[0] == 404


def test_invalid_pull_requests_are_422(gh, market):
    token = gh.issue_token("ada")
    push_branch(gh, market, "publish", {"x": "1"})

    def errors(**request):
        status, body = open_pull(gh, token, **request)
        assert (status, body["message"]) == (422, "Validation Failed")
        return body["errors"]

    assert errors(head="nope") == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    assert errors(head="someone:publish") == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
    assert errors(base="nope") == [{"resource": "PullRequest", "field": "base", "code": "invalid"}]
    assert errors(title="") == [{"resource": "PullRequest", "field": "title", "code": "missing_field"}]
    assert errors(head="main")[0]["message"] == "No commits between main and main"
    market.git("push", "--quiet", str(gh.repos["acme/market"].path), "main:already-merged")
    assert errors(head="already-merged")[0]["message"] == "No commits between main and already-merged"

    assert open_pull(gh, token, head="acme:publish")[0] == 201
    assert errors() == [{"resource": "PullRequest", "code": "custom",
                         "message": "A pull request already exists for acme:publish."}]
    assert len(gh.repos["acme/market"].pulls) == 1


def test_list_pull_requests_with_github_filters(gh, market):
    token = gh.issue_token("ada")
    for branch in ("one", "two"):
        push_branch(gh, market, branch, {branch: branch})
    push_branch(gh, market, "next", {"n": "n"})
    assert open_pull(gh, token, head="one")[0] == 201
    assert open_pull(gh, token, head="two")[0] == 201
    assert open_pull(gh, token, head="one", base="next")[0] == 201
    assert rest(gh, "PATCH", "/repos/acme/market/pulls/2", token, {"state": "closed"})[0] == 200

    def numbers(**params):
        status, pulls = rest(gh, "GET", "/repos/acme/market/pulls", token, **params)
        assert status == 200 and all("merged" not in pr for pr in pulls)  # lists have merged_at only
        return [pr["number"] for pr in pulls]

    assert numbers() == [3, 1]  # open ones, newest first
    assert numbers(state="closed") == [2]
    assert numbers(state="all") == [3, 2, 1]
    assert numbers(head="acme:one") == [3, 1]
    assert numbers(head="acme:one", base="main") == [1]
    assert numbers(head="one") == [3, 1]  # GitHub ignores a head without its owner, and so does the fake
    assert numbers(head="acme:two") == []
    assert numbers(state="all", per_page=2) == [3, 2]


def test_close_reopen_and_edit(gh, market):
    ada, eve = gh.issue_token("ada"), gh.issue_token("eve")
    push_branch(gh, market, "publish", {"x": "1"})
    open_pull(gh, eve)  # a reader may open one; only its author or a writer may change it
    gh.add_user("zed")
    gh.repos["acme/market"].readers += ("zed",)
    assert rest(gh, "PATCH", "/repos/acme/market/pulls/1", gh.issue_token("zed"), {"state": "closed"}) == (
        403, {"message": "Resource not accessible by integration"})

    status, pr = rest(gh, "PATCH", "/repos/acme/market/pulls/1", ada, {"state": "closed", "title": "Superseded"})
    assert (status, pr["state"], pr["title"], pr["merged"]) == (200, "closed", "Superseded", False)
    assert pr["closed_at"] and pr["merged_at"] is None
    assert open_pull(gh, ada)[0] == 201  # the closed one no longer blocks a new one
    status, body = rest(gh, "PATCH", "/repos/acme/market/pulls/1", eve, {"state": "open"})
    assert (status, body["errors"][0]["message"]) == (422, "A pull request already exists for acme:publish.")
    assert rest(gh, "PATCH", "/repos/acme/market/pulls/2", ada, {"state": "closed"})[0] == 200
    status, pr = rest(gh, "PATCH", "/repos/acme/market/pulls/1", eve, {"state": "open"})
    assert (status, pr["state"], pr["closed_at"]) == (200, "open", None)


def test_merge_pull_makes_a_merge_commit(gh, market, tmp_path):
    token = gh.issue_token("ada")
    head = push_branch(gh, market, "publish", {"plugins/x/README.md": "x\n"})
    open_pull(gh, token)
    before = push_branch(gh, market, "main", {"NEWS": "meanwhile\n"})  # main moved on: a true merge

    sha = gh.merge_pull("acme/market", 1)
    repo = gh.repos["acme/market"]
    assert repo.branch_sha("main") == sha
    assert repo.git("rev-parse", f"{sha}^1", f"{sha}^2").split() == [before, head]
    assert repo.git("show", "main:plugins/x/README.md") == "x" and repo.git("show", "main:NEWS") == "meanwhile"
    assert repo.git("log", "-1", "--format=%s", "main") == "Merge pull request #1 from acme/publish"
    status, pr = rest(gh, "GET", "/repos/acme/market/pulls/1", token)
    assert (pr["state"], pr["merged"], pr["merge_commit_sha"], pr["head"]["sha"]) == ("closed", True, sha, head)
    assert pr["merged_at"] and pr["closed_at"]
    with pytest.raises(ValueError):
        gh.merge_pull("acme/market", 1)
    assert rest(gh, "PATCH", "/repos/acme/market/pulls/1", token, {"state": "open"})[0] == 422

    # Fetched over HTTP, main has both sides.
    work = clone(gh, tmp_path, token)
    assert (work.path / "plugins/x/README.md").exists() and (work.path / "NEWS").exists()


def test_merge_through_the_api(gh, market):
    ada, eve = gh.issue_token("ada"), gh.issue_token("eve")
    head = push_branch(gh, market, "publish", {"README.md": "published\n"})
    push_branch(gh, market, "clash", {"README.md": "clash\n"})
    open_pull(gh, ada)
    open_pull(gh, ada, head="clash")
    merge = "/repos/acme/market/pulls/1/merge"
    assert rest(gh, "PUT", merge, eve)[0] == 403
    assert rest(gh, "PUT", merge, ada, {"sha": market.head})[0] == 409  # not the head any more
    status, body = rest(gh, "PUT", merge, ada, {"sha": head})
    assert (status, body["merged"], body["message"]) == (200, True, "Pull Request successfully merged")
    assert gh.repos["acme/market"].branch_sha("main") == body["sha"]
    assert gh.repos["acme/market"].git("show", "main:README.md") == "published"
    # Both changed README.md from main's first version: the second does not merge.
    status, body = rest(gh, "PUT", "/repos/acme/market/pulls/2/merge", ada)
    assert (status, body) == (405, {"message": "Pull Request is not mergeable"})
    assert rest(gh, "GET", "/repos/acme/market/pulls/2", ada)[1]["state"] == "open"


def test_comments_on_pull_requests(gh, market):
    ada, eve = gh.issue_token("ada"), gh.issue_token("eve")
    push_branch(gh, market, "publish", {"x": "1"})
    open_pull(gh, ada)
    status, comment = rest(gh, "POST", "/repos/acme/market/issues/1/comments", eve, {"body": "Looks right."})
    assert (status, comment["body"], comment["user"]["login"]) == (201, "Looks right.", "eve")
    assert comment["html_url"] == f"{gh.base_url}/acme/market/pull/1#issuecomment-{comment['id']}"
    assert gh.repos["acme/market"].pulls[1].comments == [comment]
    assert rest(gh, "GET", "/repos/acme/market/issues/1/comments", ada) == (200, [comment])
    assert rest(gh, "POST", "/repos/acme/market/issues/1/comments", eve, {"body": ""})[0] == 422
    assert rest(gh, "POST", "/repos/acme/market/issues/7/comments", eve, {"body": "?"})[0] == 404


def test_adding_a_repository_again_starts_it_afresh(gh, market):
    push_branch(gh, market, "publish", {"x": "1"})
    open_pull(gh, gh.issue_token("ada"))
    gh.add_repo("acme/market", writers=["ada"])
    repo = gh.repos["acme/market"]
    assert repo.pulls == {} and repo.branch_sha("main") is None and repo.branch_sha("publish") is None
    with pytest.raises(ValueError):
        gh.add_repo("../escape")
    with pytest.raises(KeyError):
        gh.issue_token("nobody")

"""The fake GitHub itself, driven over HTTP the way allauth's GitHub provider drives the real one."""
import base64
import hashlib
import json
import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

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

"""GitHub sign-in through the fake GitHub: the org gate, teams, audit, and GitHub as the only way in."""
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import User

from audit.models import Action, AuditEvent, Outcome
from marketplace.github import GitHubError
from marketplace.models import GitHubIdentity
from marketplace.teams import refresh_identities

pytestmark = pytest.mark.django_db


@pytest.fixture
def github(fake_github, settings):
    """The fake GitHub with a fresh cast, and Skillport configured to use it for sign-in."""
    settings.SKILLPORT_GITHUB_CLIENT_ID = fake_github.client_id
    settings.SKILLPORT_GITHUB_ORGS = ["acme"]
    fake_github.add_user("ada", id=501, orgs=["acme"], teams=["acme/core", "acme/docs", "other/x"])
    fake_github.add_user("eve", id=666, orgs=["evilcorp"])
    return fake_github


def sign_in(client, github, login):
    """Drive the OAuth dance: our login view, GitHub's authorize, our callback."""
    github.login_as(login)
    start = client.post("/accounts/github/login/", {"next": "/skills/"})
    assert start.status_code == 302 and start["Location"].startswith(github.base_url)
    approved = requests.get(start["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(approved.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_member_signs_in_and_is_remembered(client, github):
    response = sign_in(client, github, "ada")
    assert response.status_code == 302 and response["Location"] == "/skills/"
    identity = GitHubIdentity.objects.get(login="ada")
    assert identity.github_id == 501 and identity.orgs == ["acme"]
    assert identity.teams == ["acme/core", "acme/docs"]  # teams of other orgs are not kept
    assert client.get("/skills/").status_code == 200
    event = AuditEvent.objects.get(action=Action.SIGN_IN)
    assert (event.actor_login, event.actor_github_id) == ("ada", 501)
    authorize = [params for method, path, params in github.requests if path == "/login/oauth/authorize"][-1]
    assert set(authorize["scope"].split()) == {"read:user", "user:email", "read:org"}


def test_non_member_is_refused_with_a_clear_page(client, github):
    response = sign_in(client, github, "eve")
    assert response.status_code == 403
    assert "not in this organisation" in response.content.decode()
    assert client.get("/skills/").status_code == 302  # still anonymous
    assert not User.objects.filter(username="eve").exists()
    event = AuditEvent.objects.get(action=Action.SIGN_IN_FAILED)
    assert event.outcome == Outcome.DENIED and event.extra["github_login"] == "eve"


def test_cancelled_authorisation_signs_nobody_in(client, github):
    github.deny_next = True
    sign_in(client, github, "ada")
    assert client.get("/skills/").status_code == 302
    assert not GitHubIdentity.objects.exists()


def test_github_is_the_only_way_in_once_configured(client, github):
    User.objects.create_user("local", password="local-password-1")
    page = client.get("/login/").content.decode()
    assert "Sign in with GitHub" in page and 'name="password"' not in page
    assert client.post("/login/", {"username": "local", "password": "local-password-1"}).status_code == 405
    assert "/login/" in client.get("/admin/login/")["Location"]
    assert client.get("/accounts/signup/").status_code in (302, 404)  # no local sign-up


def test_without_github_the_local_form_works(client, settings):
    settings.SKILLPORT_GITHUB_CLIENT_ID = ""
    User.objects.create_user("local", password="local-password-1")
    assert 'name="password"' in client.get("/login/").content.decode()
    response = client.post("/login/", {"username": "local", "password": "local-password-1"})
    assert response.status_code == 302
    assert client.get("/skills/").status_code == 200


def test_hourly_refresh_follows_team_and_org_changes(client, github, settings):
    sign_in(client, github, "ada")
    settings.SKILLPORT_GITHUB_ORG_TOKEN = github.issue_token("ada", scopes=("read:org",))
    github.users["ada"].teams = ("acme/core", "other/x")
    assert refresh_identities() == 1
    assert GitHubIdentity.objects.get(login="ada").teams == ["acme/core"]
    # The server's token belongs to an org owner; ada leaves the organisation.
    github.add_user("skillport-bot", orgs=["acme"])
    settings.SKILLPORT_GITHUB_ORG_TOKEN = github.issue_token("skillport-bot")
    github.users["ada"].orgs, github.users["ada"].teams = ("other",), ("other/x",)
    assert refresh_identities() == 1
    ada = GitHubIdentity.objects.get(login="ada")
    assert ada.orgs == [] and ada.teams == []
    page = client.get("/skills/")
    assert page.status_code == 200 and page.context["page"].paginator.count == 0

    # A token that cannot read the org fails the whole refresh instead of stripping everyone.
    settings.SKILLPORT_GITHUB_ORG_TOKEN = github.issue_token("eve")
    with pytest.raises(GitHubError):
        refresh_identities()


def test_each_request_loads_the_session_then_the_user_with_their_identity(
        client, django_assert_num_queries):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    ada = User.objects.create_user("ada")
    GitHubIdentity.objects.create(user=ada, github_id=501, login="ada", orgs=["acme"], teams=["acme/core"])
    client.force_login(ada)
    with django_assert_num_queries(3):  # the session, the user with their GitHub identity, the view's SELECT 1
        response = client.get("/healthz")
        user = response.wsgi_request.user
        assert user == ada and user.github.teams == ["acme/core"]

    ada.is_active = False
    ada.save()
    assert not client.get("/healthz").wsgi_request.user.is_authenticated  # a disabled account is signed out

    ada.is_active = True
    ada.save()
    assert client.get("/healthz").wsgi_request.user == ada
    Session.objects.update(expire_date=timezone.now())
    assert not client.get("/healthz").wsgi_request.user.is_authenticated  # an expired session is no session


def test_a_local_account_has_no_identity_and_asks_for_none(client, django_assert_num_queries):
    local = User.objects.create_user("local")
    client.force_login(local)
    with django_assert_num_queries(3):
        user = client.get("/healthz").wsgi_request.user
        assert user == local and getattr(user, "github", None) is None

"""GitHub's API, for the organisation gate at sign-in and the teams visibility rules name.

Sign-in calls use the user's own token once, during the login, and never store it. The
periodic refresh uses the server's own token (SKILLPORT_GITHUB_ORG_TOKEN).
"""
import logging

import requests

log = logging.getLogger(__name__)
TIMEOUT = 10


class GitHubError(Exception):
    pass


def api_url() -> str:
    """The API base allauth signs in against, so sign-in and membership never disagree."""
    from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter

    return GitHubOAuth2Adapter.api_url


def _get(path, token, **params):
    try:
        response = requests.get(
            f"{api_url()}{path}", params=params, timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        )
    except requests.RequestException as exc:
        raise GitHubError(f"GitHub did not answer: {exc.__class__.__name__}") from None
    return response


def _pages(path, token):
    """Every item of a paginated list, following the Link headers."""
    response = _get(path, token, per_page=100)
    while True:
        if response.status_code != 200:
            raise GitHubError(f"GET {path} answered {response.status_code}")
        yield from response.json()
        following = response.links.get("next", {}).get("url")
        if not following:
            return
        try:
            response = requests.get(following, timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            raise GitHubError(f"GitHub did not answer: {exc.__class__.__name__}") from None


def active_orgs(token, orgs) -> list[str]:
    """Which of `orgs` the token's user is an active member of (needs read:org)."""
    member = []
    for org in orgs:
        response = _get(f"/user/memberships/orgs/{org}", token)
        if response.status_code == 200 and response.json().get("state") == "active":
            member.append(org)
        elif response.status_code not in (200, 403, 404):
            raise GitHubError(f"membership check for {org} answered {response.status_code}")
    return member


def user_teams(token) -> list[str]:
    """The user's teams as "org/team" slugs."""
    return sorted(f"{t['organization']['login']}/{t['slug']}" for t in _pages("/user/teams", token))


def org_memberships(token, org) -> dict[str, list[str]]:
    """{login: ["org/team", ...]} for every member of `org`, with the server's token."""
    members = {m["login"].lower(): [] for m in _pages(f"/orgs/{org}/members", token)}
    for team in _pages(f"/orgs/{org}/teams", token):
        for member in _pages(f"/orgs/{org}/teams/{team['slug']}/members", token):
            members.setdefault(member["login"].lower(), []).append(f"{org}/{team['slug']}")
    return members

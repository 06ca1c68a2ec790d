"""Pull requests on GitHub for git targets: Claude.ai re-syncs its organisation marketplace when a
pull request that bumps a plugin's version is merged, and people review what Skillport proposes.

Talks to the API of the GitHub that `SKILLPORT_GITHUB_URL` names (github.com, Enterprise Server, or
the tests' fake), with the target's own credential, which is never logged nor shown.
"""
import re
from urllib.parse import urlsplit

import requests
from django.conf import settings

from marketplace import github

TIMEOUT = 20
# owner/name in https://host/owner/name(.git) or git@host:owner/name(.git)
REPOSITORY = re.compile(r"^/?([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


class PullRequestError(Exception):
    """GitHub refused or did not answer; the message is safe to show admins."""


def _github_host() -> str:
    return urlsplit(settings.SKILLPORT_GITHUB_URL).hostname or ""


def repository(url: str) -> str | None:
    """"owner/name" when `url` is a repository on our GitHub, else None."""
    ssh = re.match(r"^[\w.-]+@([\w.-]+):(.+)$", url)
    host, path = (ssh.group(1), ssh.group(2)) if ssh else (urlsplit(url).hostname, urlsplit(url).path)
    if not host or host.lower() not in {"github.com", _github_host()}:
        return None
    match = REPOSITORY.match(path or "")
    return f"{match.group(1)}/{match.group(2)}" if match else None


def on_github(url: str) -> bool:
    return repository(url) is not None


class Client:
    def __init__(self, repo: str, token: str):
        self.repo, self.token = repo, token

    def _call(self, method, path, **kwargs):
        try:
            response = requests.request(
                method, f"{github.api_url()}/repos/{self.repo}{path}", timeout=TIMEOUT, allow_redirects=False,
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": "2022-11-28"}, **kwargs,
            )
        except requests.RequestException as exc:
            raise PullRequestError(f"GitHub did not answer ({exc.__class__.__name__})") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("message", "")
                errors = [e.get("message", "") for e in response.json().get("errors", []) if isinstance(e, dict)]
            except (ValueError, AttributeError):
                message, errors = "", []
            text = "; ".join(filter(None, [message, *errors]))[:300] or "no message"
            raise PullRequestError(f"GitHub answered {response.status_code} to {method} {path.split('?')[0]}: {text}")
        return response.json() if response.content else {}

    def open(self, *, head: str, base: str, title: str, body: str) -> dict:
        return self._call("POST", "/pulls", json={"title": title, "head": head, "base": base, "body": body})

    def get(self, number: int) -> dict:
        return self._call("GET", f"/pulls/{int(number)}")

    def close(self, number: int, comment: str):
        self._call("POST", f"/issues/{int(number)}/comments", json={"body": comment})
        self._call("PATCH", f"/pulls/{int(number)}", json={"state": "closed"})

"""Pull requests on GitHub: what publishing proposes to git targets (Claude.ai re-syncs its
organisation marketplace when a pull request that bumps a plugin's version is merged) and the
changes people propose to a marketplace (authoring), for its owners to review.

Talks to the API of the GitHub that `SKILLPORT_GITHUB_URL` names (github.com, Enterprise Server, or
the tests' fake), with the repository's own credential, which is never logged nor shown. Only a
repository on that same GitHub counts as one: a token for one host never goes to another's API.
"""
import re
from urllib.parse import urlsplit

import requests
from django.conf import settings

from . import github
from .gitrepo import split_token

TIMEOUT = 20
# owner/name in https://host/owner/name(.git) or git@host:owner/name(.git)
REPOSITORY = re.compile(r"^/?([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")
SCP_LIKE = re.compile(r"^[\w.-]+@([\w.-]+):(.+)$")
DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22}


class PullRequestError(Exception):
    """GitHub refused or did not answer; the message is safe to show admins."""


def repository(url: str) -> str | None:
    """"owner/name" when `url` is a repository on our GitHub, else None."""
    scp = SCP_LIKE.match(url)
    if scp:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        if parts.scheme != "ssh" and _where(parts) != _where(urlsplit(settings.SKILLPORT_GITHUB_URL)):
            return None  # another host, or another server on the same host
        host, path = parts.hostname, parts.path
    if host.lower() != (urlsplit(settings.SKILLPORT_GITHUB_URL).hostname or "").lower():
        return None
    match = REPOSITORY.match(path)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def on_github(url: str) -> bool:
    return repository(url) is not None


def _where(parts) -> tuple:
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


class Client:
    """The few pull-request calls Skillport makes, for one repository ("owner/name")."""

    def __init__(self, repo: str, token: str):
        self.repo, self.token = repo, split_token(token)[1]  # GitHub's API takes the token alone

    def _call(self, method, path, **kwargs):
        try:
            response = requests.request(
                method, f"{github.api_url()}/repos/{self.repo}{path}", timeout=TIMEOUT, allow_redirects=False,
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": "2022-11-28"}, **kwargs,
            )
        except requests.RequestException as exc:
            raise PullRequestError(f"GitHub did not answer ({exc.__class__.__name__})") from None
        where = f"{method} {path.split('?')[0]}"
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if response.status_code >= 400:
            found = data if isinstance(data, dict) else {}
            errors = [e.get("message", "") for e in found.get("errors") or [] if isinstance(e, dict)]
            text = "; ".join(str(m) for m in [found.get("message"), *errors] if m)[:300] or "no message"
            raise PullRequestError(f"GitHub answered {response.status_code} to {where}: {text}")
        if data is None:
            raise PullRequestError(f"GitHub's answer to {where} was not JSON")
        return data

    def open(self, *, head: str, base: str, title: str, body: str) -> dict:
        """Open a pull request from `head` into `base`; its {number, url}."""
        return _pull(self._call("POST", "/pulls", json={"title": title, "head": head, "base": base, "body": body}))

    def get(self, number: int) -> dict:
        return self._call("GET", f"/pulls/{int(number)}")

    def open_pulls(self, *, base: str) -> list[dict]:
        """The open pull requests into `base` from branches of this repository (the first hundred, newest
        first), as {number, url, branch}. A fork's branch may be named like one of Skillport's: it is not."""
        found = self._call("GET", "/pulls", params={"state": "open", "base": base, "per_page": 100})
        if not isinstance(found, list):
            raise PullRequestError("GitHub's list of pull requests was not a list")
        pulls = []
        for item in found:
            head = _field(item, "head")
            branch, repo = head.get("ref"), _field(head, "repo").get("full_name")
            if isinstance(branch, str) and isinstance(repo, str) and repo.lower() == self.repo.lower():
                pulls.append({**_pull(item), "branch": branch})
        return pulls

    def close(self, number: int, comment: str):
        """Say why in a comment, then close the pull request."""
        self._call("POST", f"/issues/{int(number)}/comments", json={"body": comment})
        self._call("PATCH", f"/pulls/{int(number)}", json={"state": "closed"})


def _field(data, key) -> dict:
    """`data[key]` where both are objects, else {}: GitHub's answers are read, never trusted."""
    found = data.get(key) if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _pull(data) -> dict:
    """{number, url} of a pull request object, checked: the rest of Skillport stores and shows them."""
    number, url = (data.get("number"), data.get("html_url")) if isinstance(data, dict) else (None, None)
    if not isinstance(number, int) or not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PullRequestError("GitHub's answer did not describe a pull request")
    return {"number": number, "url": url}

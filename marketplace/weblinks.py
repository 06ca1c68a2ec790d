"""Where people can read what the catalogue serves: the repository's own web pages, at the commit served,
and where a pushed proposal's merge request is opened.

Only GitHub (github.com, or the GitHub Enterprise of SKILLPORT_GITHUB_URL) has addresses we know for
a folder at a commit (`/tree/<commit>/<path>`); for other hosts pages show the commit instead. A link
is built from the host, port and path alone, so no user name or token in a git URL reaches a page.
"""
import re
from types import SimpleNamespace
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings

from . import manifest
from .gitrepo import bitbucket_data_center, host_kind, is_local
from .problems import Problems
from .reader import catalog_root
from .tree import Escape, join_inside

SCP_LIKE = re.compile(r"^[\w.-]+@([\w.-]+):/?(.+)$")  # git@github.com:owner/repo.git
OWNER_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
# A Bitbucket Data Center clone URL's path, below any context path the server runs under: /scm/PROJECT/repo.git,
# or /scm/~user/repo.git for a user's own. Its pages are /projects/PROJECT/repos/repo and /users/user/repos/repo.
DATA_CENTER_CLONE = re.compile(r"^(?P<context>.*)/scm/(?P<owner>[^/]+)/(?P<repo>[^/]+)$")


def repository(url: str) -> str:
    """The web page of the repository at a git URL: GitHub's for any of its forms, a Bitbucket Data Center's
    from its clone URL, the address itself (less `.git`) for another host's https URL; "" for ssh elsewhere
    or a folder on this server."""
    if github := _github(url):
        return github
    parts = urlsplit(url)
    if is_local(url) or parts.scheme != "https" or not parts.hostname:
        return ""
    port = f":{parts.port}" if parts.port else ""
    path = parts.path.rstrip("/").removesuffix(".git")
    if bitbucket_data_center(url) and (clone := DATA_CENTER_CLONE.match(path)):
        owner = clone["owner"]
        owner = f"users/{owner[1:]}" if owner.startswith("~") else f"projects/{owner}"
        path = f"{clone['context']}/{owner}/repos/{clone['repo']}"
    return f"https://{parts.hostname}{port}{path}"


def tree(url: str, commit: str, path: str = "") -> str:
    """The GitHub page of `path` in the repository of `url` at `commit`; "" for other hosts."""
    base = _github(url)
    if not base or not commit:
        return ""
    folder = "" if path in ("", ".") else "/" + quote(path.strip("/"), safe="/")
    return f"{base}/tree/{quote(commit, safe='')}{folder}"


def new_merge_request(url: str, branch: str, base: str) -> str:
    """The host's page that opens a merge request (pull request) from `branch` into `base` of the repository
    at `url`, both filled in: GitHub's compare page, GitLab's new merge request, Bitbucket's new pull request
    (Cloud's or Data Center's), Gitea's and Forgejo's compare page. "" for a host of no known kind
    (SKILLPORT_GIT_HOSTS names self-hosted ones), or a URL with no web page (ssh elsewhere, a folder on this
    server)."""
    page = repository(url)
    if not page:
        return ""
    kind = "github" if _github(url) else host_kind(page)
    if kind in ("github", "gitea"):
        compare = f"{page}/compare/{quote(base, safe='/')}...{quote(branch, safe='/')}"
        return compare + "?expand=1" if kind == "github" else compare
    if kind == "gitlab":
        return f"{page}/-/merge_requests/new?" + urlencode(
            {"merge_request[source_branch]": branch, "merge_request[target_branch]": base})
    if bitbucket_data_center(page):
        return f"{page}/pull-requests?create&" + urlencode(
            {"sourceBranch": f"refs/heads/{branch}", "targetBranch": f"refs/heads/{base}"})
    if kind == "bitbucket":
        return f"{page}/pull-requests/new?" + urlencode({"source": branch, "dest": base})
    return ""


def _github(url: str) -> str:
    if not url or is_local(url):
        return ""
    if scp := SCP_LIKE.match(url):
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git"):
            return ""
        host, path = parts.hostname or "", parts.path
    path = path.strip("/").removesuffix(".git")
    if host.lower() not in _github_hosts() or not OWNER_REPO.match(path):
        return ""
    return f"https://{host.lower()}/{path}"


def plugin_source(plugin) -> tuple[str, str]:
    """(git URL of the repository holding the plugin, the plugin's folder in it); ("", "") when its
    source names no repository Skillport reads (npm, archives) or can no longer be read."""
    marketplace = plugin.marketplace
    source = manifest.parse_source(plugin.entry.get("source"), SimpleNamespace(metadata=marketplace.metadata or {}),
                                   "", Problems(), settings.SKILLPORT_GITHUB_URL)
    if source is None:
        return "", ""
    if source.kind == "relative":
        try:
            return marketplace.git_url, join_inside(catalog_root(marketplace.catalog_path), source.path)
        except Escape:
            return "", ""
    return (source.url, source.path) if source.fetched else ("", "")


def _github_hosts() -> set:
    return {"github.com", (urlsplit(settings.SKILLPORT_GITHUB_URL).hostname or "").lower()} - {""}

"""Publish a built marketplace to a git repository: a commit on the branch, or a pull request.

Skillport owns `.claude-plugin/marketplace.json` and `plugins/` in the target repository; every
other file (a README, CI workflows) is carried over from the branch as it is. It never
force-pushes. When a person changed the files it owns since its last publish, pushing on top
would silently undo their change: it opens a pull request instead on GitHub, and elsewhere stops
with a problem that says how to go on.
"""
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from marketplace import gitrepo
from marketplace.gitrepo import GitError, Repository

from . import pulls

OWNED = [".claude-plugin/marketplace.json", "plugins"]


class PublishRefused(Exception):
    """Publishing cannot go on without a person's decision; the message says which."""


@dataclass
class Pushed:
    commit: str = ""  # empty: nothing new to publish
    pull_request: dict | None = None  # {number, url, branch, tree} when one was opened


def publish(target, folder: Path, message: str, *, replace_edits=False) -> Pushed:
    """Put the marketplace built in `folder` on the target's branch, directly or by pull request."""
    url, token, branch = target.repository_url, target.credential or None, target.branch
    head = gitrepo.ls_remote(url, f"refs/heads/{branch}", token=token)
    repo = _local(url, head, token)
    tree = _tree(repo, folder, head)
    if head and tree == _run(repo, "rev-parse", f"{head}^{{tree}}"):
        return Pushed()
    open_pr = target.open_pull_request or {}
    if target.uses_pull_requests and open_pr.get("tree") == tree and _still_open(target, open_pr):
        return Pushed(pull_request=open_pr)
    commit = _commit(repo, tree, head, message, target)
    if not head:
        # A new branch (or an empty repository): there is nothing a pull request could go into.
        repo.push(url, commit, f"refs/heads/{branch}", token=token)
        return Pushed(commit)
    edited = _edited(repo, target.published_commit, head)
    if target.uses_pull_requests or (edited and not replace_edits and pulls.on_github(url)):
        return Pushed(commit, _propose(target, repo, commit, tree, message, open_pr))
    if edited and not replace_edits:
        raise PublishRefused(
            f"Someone changed {', '.join(edited[:5])} on {branch} since Skillport last published; pushing on top would "
            "undo it. Bring the change into the marketplace it came from (or revert it), or publish with "
            "--replace-edits to put the approved content back on top of it."
        )
    try:
        repo.push(url, commit, f"refs/heads/{branch}", token=token)
    except GitError as exc:
        if _rejected(exc):
            raise PublishRefused(f"{branch} moved while Skillport was publishing; nothing was changed. "
                                 "Publish again.") from None
        raise
    return Pushed(commit)


def _local(url, head, token) -> Repository:
    """A cached bare repository to build the commit in, holding the branch's head when there is one."""
    if head:
        return Repository.holding(url, head, token=token)
    repo = Repository(Repository.cache_path(url))
    if not (repo.git_dir / "HEAD").exists():
        gitrepo.run(["init", "--bare", "--quiet", str(repo.git_dir)])
    return repo


def _tree(repo, folder, head) -> str:
    """The branch's tree with Skillport's files replaced by those in `folder`."""
    with tempfile.TemporaryDirectory() as scratch:
        env = gitrepo.local_env(extra={"GIT_INDEX_FILE": os.path.join(scratch, "index"), "GIT_WORK_TREE": str(folder)})
        if head:
            gitrepo.run(["read-tree", head], git_dir=repo.git_dir, env=env)
            gitrepo.run(["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *OWNED], git_dir=repo.git_dir, env=env)
        # --ignore-removal: files of the branch that are not in `folder` (a README) stay.
        gitrepo.run(["add", "--force", "--ignore-removal", "--", "."], git_dir=repo.git_dir, env=env)
        return gitrepo.run(["write-tree"], git_dir=repo.git_dir, env=env).decode().strip()


def _commit(repo, tree, head, message, target) -> str:
    who = {"GIT_AUTHOR_NAME": target.owner_name or "Skillport",
           "GIT_AUTHOR_EMAIL": target.owner_email or "skillport@localhost"}
    who |= {"GIT_COMMITTER_NAME": who["GIT_AUTHOR_NAME"], "GIT_COMMITTER_EMAIL": who["GIT_AUTHOR_EMAIL"]}
    parents = ["-p", head] if head else []
    out = gitrepo.run(["commit-tree", tree, *parents, "-F", "-"], git_dir=repo.git_dir,
                      env=gitrepo.local_env(extra=who), input=message.encode())
    return out.decode().strip()


def _edited(repo, published, head) -> list[str]:
    """Files Skillport owns that commits after its last publish changed."""
    if not published or published == head or not repo.has_commit(published):
        return []
    out = _run(repo, "diff", "--name-only", published, head, "--", *OWNED)
    return out.splitlines()


def _propose(target, repo, commit, tree, message, open_pr) -> dict:
    """Push `commit` to a branch of its own and open a pull request for it; close the one it replaces."""
    repository = pulls.repository(target.repository_url)
    if repository is None:
        raise PublishRefused("Pull requests need a repository on GitHub; choose the push mode for this one.")
    branch = f"skillport/{target.name}-{tree[:12]}"
    repo.push(target.repository_url, commit, f"refs/heads/{branch}", token=target.credential or None)
    client = pulls.Client(repository, target.credential)
    title, _, body = message.partition("\n")
    opened = client.open(head=branch, base=target.branch, title=title, body=body.strip())
    proposed = {"number": opened["number"], "url": opened["html_url"], "branch": branch, "tree": tree}
    if open_pr.get("number") and open_pr["number"] != opened["number"]:
        try:
            client.close(open_pr["number"], f"Superseded by #{opened['number']}, which Skillport opened with newer content.")
        except pulls.PullRequestError:
            pass  # already closed or merged by a person; the new one stands either way
    return proposed


def _still_open(target, open_pr) -> bool:
    repository = pulls.repository(target.repository_url)
    try:
        return pulls.Client(repository, target.credential).get(open_pr["number"]).get("state") == "open"
    except pulls.PullRequestError:
        return False


def _rejected(exc: GitError) -> bool:
    return any(word in exc.detail for word in ("non-fast-forward", "fetch first", "rejected"))


def _run(repo, *args) -> str:
    return gitrepo.run(list(args), git_dir=repo.git_dir).decode().strip()

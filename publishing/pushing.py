"""Publish a built marketplace to a git repository: a commit on the branch, or a pull request.

Skillport owns `.claude-plugin/marketplace.json` and `plugins/` in the target repository; every
other file (a README, CI workflows) is carried over from the branch as it is. It never
force-pushes. When a person changed the files it owns since its last publish, pushing on top
would silently undo their change: it opens a pull request instead on GitHub, and elsewhere stops
with a problem that says how to go on (`publish --replace-edits` pushes on top). A branch GitHub
refuses to take pushes on (a protected one) gets a pull request too.

The commit is built from the bytes built, without a checkout and without git's content
filters: the target repository's `.gitattributes` (or a plugin's) cannot rewrite line endings or
turn files into LFS pointers on the way in.
"""
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from marketplace import gitrepo, pulls
from marketplace.gitrepo import GitError, Repository
from marketplace.tree import folders_of

OWNED = [".claude-plugin/marketplace.json", "plugins"]
# Bytes of files stored by one git fast-import, which holds them in memory.
BATCH_BYTES = 64 * 1024 * 1024
# git's words for why a remote failed (LC_ALL=C), and what admins read instead: git's own text
# stays in the error's `detail`, as it does for syncs.
REASONS = [
    (re.compile(r"\b403\b|denied to|permission denied", re.I), "the credential lacks the permission"),
    (re.compile(r"\b401\b|authentication failed|could not read username", re.I),
     "the credential was refused (or none is set)"),
    (re.compile(r"\b404\b|not found|does not appear to be a git repository|does not exist", re.I),
     "there is no repository there, or the credential may not see it"),
    (re.compile(r"SKILLPORT_FETCH_ALLOWED_HOSTS"),
     "its address is one Skillport does not connect to (see SKILLPORT_FETCH_ALLOWED_HOSTS)"),
    (re.compile(r"(cannot|could not|couldn't|failed to) connect|connection refused|timed out|could not resolve|"
                r"unreachable|no route to host", re.I), "nothing answered there"),
]


class PublishRefused(Exception):
    """Publishing cannot go on without a person's decision; the message says which."""


@dataclass
class Pushed:
    commit: str = ""  # empty: nothing new to publish
    pull_request: dict | None = None  # {number, url, branch, commit, tree, base} when one is open


def publish(target, files: dict, message: str, *, replace_edits=False) -> Pushed:
    """Put the marketplace built (`files`, {path: (executable, content)}) on the target's branch, directly or
    by pull request."""
    url, token, branch = target.repository_url, target.credential or None, target.branch
    _refuse_local(url)
    head = _head(url, branch, token)
    repo = _local(url, head, token)
    tree = _tree(repo, files, head)
    if head and tree == _tree_of(repo, head):
        return Pushed()
    if not head:
        # A new branch (or an empty repository): there is nothing a pull request could go into.
        commit = _commit(repo, tree, head, message, target)
        _push(repo, url, commit, branch, token)
        return Pushed(commit)
    if target.uses_pull_requests:
        return _propose(target, repo, tree, head, message)
    edited = [] if replace_edits else _edited(repo, target, head)
    if edited and pulls.on_github(url):
        return _propose(target, repo, tree, head, message)
    if edited:
        raise PublishRefused(
            f"Someone changed {', '.join(edited[:5])} on {branch} since Skillport last published; pushing on top would "
            "undo it. Bring the change into the marketplace it came from (or revert it), or publish with "
            "--replace-edits to put the approved content back on top of it."
        )
    commit = _commit(repo, tree, head, message, target)
    try:
        _push(repo, url, commit, branch, token)
    except GitError:
        if _head(url, branch, token) != head:
            raise PublishRefused(f"{branch} moved while Skillport was publishing; nothing was changed. "
                                 "Publish again.") from None
        if not pulls.on_github(url):
            raise
        # GitHub refused the branch itself (protected, or the credential may push only elsewhere).
        return _propose(target, repo, tree, head, message)
    return Pushed(commit)


def on_branch(target) -> dict:
    """{plugin: {"version"}} of the marketplace on the target's branch now: what Claude.ai's sync
    reads, which a pull request not (yet) merged has not changed. Empty when there is none."""
    url, token = target.repository_url, target.credential or None
    _refuse_local(url)
    head = _head(url, target.branch, token)
    if not head:
        return {}
    try:
        raw = gitrepo.run(["cat-file", "blob", f"{head}:{OWNED[0]}"], git_dir=_local(url, head, token).git_dir)
        entries = json.loads(raw).get("plugins", [])
    except (GitError, ValueError, AttributeError):
        return {}  # not a marketplace (yet): everything Skillport publishes is new there
    return {e["name"]: {"version": str(e.get("version") or "")}
            for e in (entries if isinstance(entries, list) else ())
            if isinstance(e, dict) and isinstance(e.get("name"), str)}


def _refuse_local(url):
    """Raises PublishRefused for a folder of this server (Skillport's own git cache, say), before anything reads it:
    writing there, or reading what it holds into a run, is not for the admin form."""
    if gitrepo.is_local(url) and not settings.SKILLPORT_ALLOW_LOCAL_SOURCES:
        raise PublishRefused("The repository is a folder on this server; publish to its URL, or set "
                             "SKILLPORT_ALLOW_LOCAL_SOURCES to allow local repositories.")


def _head(url, branch, token) -> str:
    """The branch's commit at `url`, "" when it has none."""
    try:
        return gitrepo.ls_remote(url, f"refs/heads/{branch}", token=token)
    except GitError as exc:
        raise _failed(f"Reading {gitrepo.redact(url)} failed", exc) from None


def _local(url, head, token) -> Repository:
    """A cached bare repository to build the commit in, holding the branch's head when there is one."""
    try:
        if head:
            return Repository.holding(url, head, token=token)
    except GitError as exc:
        raise _failed(f"Fetching {gitrepo.redact(url)} failed", exc) from None
    repo = Repository(Repository.cache_path(url))
    if not (repo.git_dir / "HEAD").exists():
        gitrepo.run(["init", "--bare", "--quiet", str(repo.git_dir)])
    return repo


def _push(repo, url, commit, branch, token):
    try:
        repo.push(url, commit, f"refs/heads/{branch}", token=token)
    except GitError as exc:
        raise _failed(f"Pushing to {branch} of {gitrepo.redact(url)} failed", exc,
                      otherwise="the server refused it") from None


def _failed(what: str, exc: GitError, otherwise=gitrepo.FETCH_FAILED) -> GitError:
    """A GitError whose message says what failed and, in a few words, why; git's own in `detail`."""
    detail = exc.detail or str(exc)
    reason = next((why for pattern, why in REASONS if pattern.search(detail)), otherwise)
    return GitError(f"{what}: {reason}.", detail=detail)


def _tree(repo, files: dict, head) -> str:
    """The branch's tree with Skillport's files replaced by `files`.

    1. Each file is stored as it is (`_store`).
    2. The branch's entries outside what Skillport owns (ls-tree), and the new files, go into a
       scratch index (update-index --index-info), from which write-tree makes the tree.
    3. The tree must hold every one of those entries: git quietly leaves out some names.
    """
    paths = sorted(files)
    blobs = _store(repo, [files[path][1] for path in paths])
    folders = folders_of(paths)
    entries = [f"{'100755' if files[path][0] else '100644'} {sha}\t{path}".encode() for path, sha in zip(paths, blobs)]
    if head:
        for record in gitrepo.tree_records(repo.git_dir, head):
            meta, _, raw = record.partition(b"\t")
            path = raw.decode("utf-8", "surrogateescape")
            if not (_owned(path) or path in folders):  # a file where our folder goes gives way too
                mode, _kind, sha = meta.decode().split()
                entries.append(f"{mode} {sha}\t".encode() + raw)
    with tempfile.TemporaryDirectory() as scratch:
        env = gitrepo.local_env(extra={"GIT_INDEX_FILE": os.path.join(scratch, "index")})
        gitrepo.run(["update-index", "--add", "-z", "--index-info"], git_dir=repo.git_dir, env=env,
                    input=b"\0".join(entries) + b"\0")
        tree = gitrepo.run(["write-tree"], git_dir=repo.git_dir, env=env).decode().strip()
    # update-index leaves out a path it will not hold (a `.git` folder, say) with a warning, and succeeds:
    # what is published must be exactly what was built, scanned and approved, or nothing.
    held = set(gitrepo.run(["ls-tree", "-r", "-z", "--name-only", tree], git_dir=repo.git_dir).split(b"\0"))
    dropped = [path for path in (entry.partition(b"\t")[2] for entry in entries) if path not in held]
    if dropped:
        names = ", ".join(repr(path.decode("utf-8", "surrogateescape")) for path in dropped[:5])
        raise GitError(f"git refused {len(dropped)} of the files to publish ({names}); nothing was published.")
    return tree


def _store(repo, contents: list[bytes]) -> list[str]:
    """The blob id of each content, stored byte for byte (no content filters) by git fast-import, which
    writes a pack (hash-object wrote a loose object per file: 0.8 ms each, 5 s for 2,000 skills), in
    runs of about BATCH_BYTES. Blobs already in the repository's packs are not written again."""
    blobs, batch, size = [], [], 0
    for index, data in enumerate(contents):
        batch.append(data)
        size += len(data)
        if size >= BATCH_BYTES or index == len(contents) - 1:
            blobs += _fast_import(repo, batch)
            batch, size = [], 0
    return blobs


def _fast_import(repo, contents: list[bytes]) -> list[str]:
    stream = bytearray()
    for mark, data in enumerate(contents, 1):
        stream += b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data)
    with tempfile.TemporaryDirectory() as scratch:
        marks = Path(scratch, "marks")
        gitrepo.run(["fast-import", "--quiet", f"--export-marks={marks}"], git_dir=repo.git_dir, input=bytes(stream))
        found = dict(line.split() for line in marks.read_text().splitlines())
    return [found[f":{mark}"] for mark in range(1, len(contents) + 1)]


def _owned(path: str) -> bool:
    return any(path == owned or path.startswith(f"{owned}/") for owned in OWNED)


def _commit(repo, tree, head, message, target) -> str:
    who = {"GIT_AUTHOR_NAME": target.owner_name or "Skillport",
           "GIT_AUTHOR_EMAIL": target.owner_email or "skillport@localhost"}
    who |= {"GIT_COMMITTER_NAME": who["GIT_AUTHOR_NAME"], "GIT_COMMITTER_EMAIL": who["GIT_AUTHOR_EMAIL"]}
    parents = ["-p", head] if head else []
    out = gitrepo.run(["commit-tree", tree, *parents, "-F", "-"], git_dir=repo.git_dir,
                      env=gitrepo.local_env(extra=who), input=message.encode())
    return out.decode().strip()


def _edited(repo, target, head) -> list[str]:
    """Files Skillport owns that someone changed on the branch since Skillport last put them there:
    where the branch differs both from its last pushed commit and from the last pull request it
    opened (which a person may have merged since, as a merge, a squash or a rebase)."""
    published = target.published_commit
    if not published or not repo.has_commit(published):
        return []  # nothing published to this repository yet: nothing of ours to undo
    changed = _owned_changes(repo, published, head)
    proposed = (target.open_pull_request or {}).get("tree", "")
    if changed and _has_tree(repo, proposed) and not _owned_changes(repo, proposed, head):
        return []
    return changed


def _propose(target, repo, tree, head, message) -> Pushed:
    """Push a commit of `tree` on top of `head` to a branch of its own and open a pull request for it,
    closing the ones it supersedes; or nothing when the open one already proposes this content."""
    repository = pulls.repository(target.repository_url)
    if repository is None:
        raise PublishRefused("Pull requests need a repository on GitHub; choose the push mode for this one.")
    client = pulls.Client(repository, target.credential)
    open_pr = target.open_pull_request or {}
    if _proposes(repo, open_pr, tree, head) and client.get(open_pr["number"]).get("state") == "open":
        return Pushed(pull_request=open_pr)
    commit = _commit(repo, tree, head, message, target)
    prefix = f"skillport/{target.name}/"
    branch = f"{prefix}{commit[:12]}"
    _push(repo, target.repository_url, commit, branch, target.credential or None)
    title, _, body = message.partition("\n")
    opened = client.open(head=branch, base=target.branch, title=title, body=body.strip())
    for pr in client.open_pulls(base=target.branch):
        if pr["branch"].startswith(prefix) and pr["number"] != opened["number"]:
            _supersede(client, repo, target, pr, opened)
    return Pushed(commit, {"number": opened["number"], "url": opened["url"], "branch": branch, "commit": commit,
                           "tree": tree, "base": head})


def _proposes(repo, open_pr, tree, head) -> bool:
    """Does the pull request Skillport opened last propose `tree`'s content, on a base whose files
    of ours have not changed since (else it would undo that change, or not merge)?"""
    if not open_pr.get("number") or not _has_tree(repo, open_pr.get("tree", "")):
        return False
    if open_pr["tree"] == tree:
        return True
    base = open_pr.get("base", "")
    return (not _owned_changes(repo, open_pr["tree"], tree)
            and repo.has_commit(base) and not _owned_changes(repo, base, head))


def _supersede(client, repo, target, pr, opened):
    """Close an older pull request of Skillport's, saying which replaces it, and delete its branch."""
    try:
        client.close(pr["number"], f"Superseded by #{opened['number']} ({opened['url']}), which Skillport opened "
                                   "with newer content.")
    except pulls.PullRequestError:
        return  # closed or merged by a person meanwhile; the new one stands either way
    try:
        repo.push(target.repository_url, "", f"refs/heads/{pr['branch']}", token=target.credential or None)
    except GitError:
        pass  # a stale branch is clutter, not a failure


def _owned_changes(repo, a, b) -> list[str]:
    """Files Skillport owns that differ between two commits or trees."""
    return _run(repo, "diff-tree", "-r", "--name-only", "--no-renames", a, b, "--", *OWNED).splitlines()


def _has_tree(repo, sha) -> bool:
    if not gitrepo.SHA_RE.match(sha or ""):
        return False
    try:
        gitrepo.run(["cat-file", "-e", f"{sha}^{{tree}}"], git_dir=repo.git_dir)
        return True
    except GitError:
        return False


def _tree_of(repo, commit) -> str:
    return _run(repo, "rev-parse", f"{commit}^{{tree}}")


def _run(repo, *args) -> str:
    return gitrepo.run(list(args), git_dir=repo.git_dir).decode().strip()

"""Git through the CLI: cached bare clones, tree listings and blob reads without a checkout.

Credentials travel as an HTTP header in environment variables (`GIT_CONFIG_*`), so a token
is never written into a remote URL, the cache's config, the process list or a log line.
"""
import base64
import fcntl
import hashlib
import logging
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

log = logging.getLogger(__name__)

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# Deterministic identity and dates for folder snapshots: the same content gives the same commit.
SNAPSHOT_ENV = {
    "GIT_AUTHOR_NAME": "Skillport",
    "GIT_AUTHOR_EMAIL": "skillport@localhost",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "Skillport",
    "GIT_COMMITTER_EMAIL": "skillport@localhost",
    "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}
# Usernames hosts expect beside a token in HTTPS basic auth.
TOKEN_USERS = {"gitlab.com": "oauth2", "bitbucket.org": "x-token-auth"}


class GitError(Exception):
    """A git command failed; the message is safe to show and store (it holds no secret)."""


@dataclass(frozen=True)
class Entry:
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)
    sha: str
    size: int  # -1 for submodules

    @property
    def is_symlink(self):
        return self.mode == "120000"

    @property
    def is_submodule(self):
        return self.mode == "160000"


def is_local(url: str) -> bool:
    return url.startswith(("/", "./", "../", "file://")) or Path(url).expanduser().exists()


def redact(text: str) -> str:
    """Remove any user:password@ part git might echo back from a URL."""
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1", text)


def _env(token: str | None = None, url: str = "", extra: dict | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "SSH_ASKPASS"))  # never inherit a caller's repo or config
    }
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="true",
        GIT_CONFIG_NOSYSTEM="1",
        # ext:: and fd:: run commands; only transports that move data are allowed.
        GIT_ALLOW_PROTOCOL="file:git:http:https:ssh",
        GIT_SSH_COMMAND="ssh -o BatchMode=yes",
        LC_ALL="C",
    )
    if token:
        host = urlsplit(url).hostname or ""
        user = TOKEN_USERS.get(host, "x-access-token")
        basic = base64.b64encode(f"{user}:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
        )
    env.update(extra or {})
    return env


def run(args, *, git_dir=None, token=None, url="", env=None, input=None) -> bytes:
    cmd = ["git"]
    if git_dir:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    try:
        proc = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            env=_env(token, url, env),
            timeout=settings.SKILLPORT_GIT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} timed out after {settings.SKILLPORT_GIT_TIMEOUT}s") from None
    if proc.returncode != 0:
        message = redact(proc.stderr.decode("utf-8", "replace").strip()) or f"exit {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {message.splitlines()[-1][:500]}")
    return proc.stdout


@contextmanager
def _locked(path: Path):
    """Serialise work on one cache directory across threads and processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Repository:
    """A bare repository in the cache: a clone of a remote, or snapshots of a local folder."""

    def __init__(self, git_dir: Path):
        self.git_dir = git_dir

    @staticmethod
    def cache_path(key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return Path(settings.SKILLPORT_DATA_DIR) / "git" / f"{digest}.git"

    @classmethod
    def fetch(cls, url: str, *, ref: str = "", sha: str = "", token: str | None = None):
        """Clone once, fetch afterwards; return the repository and the commit to read.

        A plain local folder (not a git repository) is snapshotted instead, so a folder can be
        synced and validated exactly like a repository, uncommitted edits included.
        """
        folder = _plain_folder(url)
        if folder is not None:
            return cls._snapshot(folder)
        repo = cls(cls.cache_path(url))
        with _locked(repo.git_dir):
            if not (repo.git_dir / "HEAD").exists():
                shutil.rmtree(repo.git_dir, ignore_errors=True)
                run(["clone", "--bare", "--quiet", "--", url, str(repo.git_dir)], token=token, url=url)
            else:
                run(
                    ["fetch", "--quiet", "--prune", "--force", "--tags", "origin",
                     "+refs/heads/*:refs/heads/*"],
                    git_dir=repo.git_dir, token=token, url=url,
                )
            if sha and not repo.has_commit(sha):
                # A pinned commit that no branch reaches: ask for it by id.
                run(["fetch", "--quiet", "origin", sha], git_dir=repo.git_dir, token=token, url=url)
        return repo, repo.resolve(sha or ref or "HEAD")

    @classmethod
    def _snapshot(cls, folder: Path):
        repo = cls(cls.cache_path(f"snapshot:{folder}"))
        with _locked(repo.git_dir):
            if not (repo.git_dir / "HEAD").exists():
                run(["init", "--bare", "--quiet", str(repo.git_dir)])
            env = {"GIT_INDEX_FILE": str(repo.git_dir / "snapshot-index"), "GIT_WORK_TREE": str(folder)}
            run(["add", "--all", "--force", "."], git_dir=repo.git_dir, env=env)
            tree = run(["write-tree"], git_dir=repo.git_dir, env=env).decode().strip()
            commit = run(["commit-tree", tree, "-m", f"Snapshot of {folder.name}"],
                         git_dir=repo.git_dir, env=SNAPSHOT_ENV).decode().strip()
            run(["update-ref", "refs/heads/snapshot", commit], git_dir=repo.git_dir)
        return repo, commit

    def has_commit(self, sha: str) -> bool:
        try:
            run(["cat-file", "-e", f"{sha}^{{commit}}"], git_dir=self.git_dir)
            return True
        except GitError:
            return False

    def resolve(self, ref: str) -> str:
        if ref.startswith("-"):
            raise GitError(f"invalid ref {ref!r}")
        for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            try:
                out = run(["rev-parse", "--verify", "--quiet", "--end-of-options",
                           f"{candidate}^{{commit}}"], git_dir=self.git_dir)
                return out.decode().strip()
            except GitError:
                continue
        raise GitError(f"ref {ref!r} not found in the repository")

    def list_tree(self, commit: str, subdir: str = "") -> dict[str, Entry]:
        """Every file below `subdir` at `commit`, keyed by path relative to `subdir`."""
        treeish = f"{commit}:{subdir}" if subdir else commit
        out = run(["ls-tree", "-r", "-z", "--long", "--full-tree", treeish], git_dir=self.git_dir)
        entries = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, _kind, sha, size = meta.split()
            entries[path.decode("utf-8", "surrogateescape")] = Entry(
                mode.decode(), sha.decode(), -1 if size == b"-" else int(size)
            )
        return entries

    def blobs(self) -> "BlobReader":
        return BlobReader(self.git_dir)


class BlobReader:
    """One long-lived `git cat-file --batch` process: thousands of reads without a fork each."""

    def __init__(self, git_dir: Path):
        self._proc = subprocess.Popen(
            ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(),
        )

    def read(self, sha: str) -> bytes:
        self._proc.stdin.write(f"{sha}\n".encode())
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().split()
        if len(header) != 3:
            raise GitError(f"object {sha} is missing from the repository")
        data = self._proc.stdout.read(int(header[2]))
        self._proc.stdout.read(1)  # the newline after each object
        return data

    def close(self):
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _plain_folder(url: str) -> Path | None:
    """The folder to snapshot when `url` is a local directory that is not a repository root."""
    if url.startswith("file://"):
        return None  # a file:// URL always means "clone this repository"
    path = Path(url).expanduser()
    if not path.is_dir():
        return None
    if (path / ".git").exists() or (path / "HEAD").is_file() and (path / "objects").is_dir():
        return None
    return path.resolve()

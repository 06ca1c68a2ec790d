"""Git through the CLI: cached bare clones, tree listings and blob reads without a checkout.

Credentials travel as an HTTP header in environment variables (`GIT_CONFIG_*`), so a token
is never written into a remote URL, the cache's config, the process list or a log line.
Every command that talks to a remote goes through `_talk_to`: the remote's address is checked
(addresses.py), git is pinned to it, and transient network errors are retried within a deadline.
"""
import base64
import fcntl
import hashlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from . import addresses
from .processes import reading_in_session, run_in_session

log = logging.getLogger(__name__)

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# A URL's user:password@, its scheme starting a word: tried from within a run of word characters too,
# a scheme read on to the run's end from each (what a remote writes to git's stderr is its own: 40,000
# letters took 2.8 s).
CREDENTIALS = re.compile(r"\b(\w+://)[^/@\s]+@")
# Deterministic identity and dates for folder snapshots: the same content gives the same commit.
SNAPSHOT_ENV = {
    "GIT_AUTHOR_NAME": "Skillport",
    "GIT_AUTHOR_EMAIL": "skillport@localhost",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "Skillport",
    "GIT_COMMITTER_EMAIL": "skillport@localhost",
    "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}
# Attributes that store and check out a file's bytes as they are, over any .gitattributes (Repository._snapshot).
AS_THEY_ARE = "* -text -eol -filter -ident -working-tree-encoding\n"
# The public hosts whose kind is known (their tokens, their pages); SKILLPORT_GIT_HOSTS adds self-hosted ones.
KNOWN_HOSTS = {"gitlab.com": "gitlab", "bitbucket.org": "bitbucket", "codeberg.org": "gitea"}
# Usernames a kind of host expects beside a token in HTTPS basic auth, when the admin gave none (`authorization`).
TOKEN_USERS = {"gitlab": "oauth2", "bitbucket": "x-token-auth"}
# What members read when a remote cannot be fetched. git's own words (connection refused, timed
# out, certificate errors...) tell what listens at an address, so only admins see them (`detail`).
FETCH_FAILED = "it could not be reached or read"
# git's messages for failures that may pass if tried again (LC_ALL=C, so always in English).
TRANSIENT = re.compile(
    r"timed out|connection (refused|reset|closed|aborted)|could not connect|could not resolve host|"
    r"temporary failure in name resolution|network is unreachable|no route to host|early eof|"
    r"remote end hung up unexpectedly|unexpected disconnect|rpc failed|operation too slow|"
    r"returned error: (408|429|5\d\d)|gnutls|ssl_error_syscall",
    re.IGNORECASE,
)


class GitError(Exception):
    """A git command failed. The message is safe to show anyone and holds no secret; `detail`,
    when set, is git's own account of a network failure, for admins only."""

    def __init__(self, message, detail=""):
        super().__init__(message)
        self.detail = detail


class TooLarge(GitError):
    """A tree holds more paths than SKILLPORT_MAX_TREE_ENTRIES."""


# A record of ls-tree: its mode, kind, id, size and path (no file system holds one over 4,096 bytes; git may).
LONGEST_RECORD = 1 << 16


def tree_records(git_dir, treeish: str, *options: str) -> list[bytes]:
    """The records of `git ls-tree -r -z --full-tree <options> <treeish>`, read as git writes them.

    Raises TooLarge past SKILLPORT_MAX_TREE_ENTRIES: a tree of a few objects names millions of paths (a folder of
    ten holding itself, seven deep: ten million, 80 bytes packed), and reading them whole held 6 GB.
    """
    most = settings.SKILLPORT_MAX_TREE_ENTRIES
    cmd = ["git", "--git-dir", str(git_dir), "ls-tree", "-r", "-z", "--full-tree", *options, treeish]
    records, rest = [], b""
    try:
        with reading_in_session(cmd, env=_env(), timeout=settings.SKILLPORT_GIT_TIMEOUT) as out:
            for chunk in iter(lambda: out.read1(1 << 16), b""):
                *done, rest = (rest + chunk).split(b"\0")
                records += filter(None, done)
                # A long record read whole within two reads is among `done`, not `rest`: which one depends on
                # how the pipe hands git's output over.
                if max([len(rest), *map(len, done)]) > LONGEST_RECORD:
                    raise TooLarge(f"it holds a path over {LONGEST_RECORD:,} bytes long, so it was not read")
                if len(records) > most:
                    raise TooLarge(f"it holds more than {most:,} files and folders (SKILLPORT_MAX_TREE_ENTRIES), "
                                   "so it was not read")
    except subprocess.TimeoutExpired:
        raise GitError(f"git ls-tree timed out after {settings.SKILLPORT_GIT_TIMEOUT:.0f}s") from None
    except subprocess.CalledProcessError as exc:
        message = redact(exc.stderr.decode("utf-8", "replace").strip()) or f"exit {exc.returncode}"
        raise GitError(f"git ls-tree failed: {message.splitlines()[-1][:500]}") from None
    return records + ([rest] if rest else [])


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
    return CREDENTIALS.sub(r"\1", text)


def host_kind(url: str) -> str | None:
    """"github", "gitlab", "bitbucket" or "gitea" for a URL on a host of known kind (KNOWN_HOSTS,
    SKILLPORT_GIT_HOSTS), else None."""
    return {**KNOWN_HOSTS, **settings.SKILLPORT_GIT_HOSTS}.get(urlsplit(url).hostname or "")


def bitbucket_data_center(url: str) -> bool:
    """Whether `url` is on a self-hosted Bitbucket (Data Center): Bitbucket Cloud is bitbucket.org alone."""
    return host_kind(url) == "bitbucket" and urlsplit(url).hostname != "bitbucket.org"


def split_token(token: str) -> tuple[str, str]:
    """(name, secret) of a token the admin gave as `name:token`, because the host checks it together with a
    user name (`deploy-bot:gldt-...`): GitLab's deploy tokens, Bitbucket Cloud's API tokens, Bitbucket Data
    Center's personal tokens. ("", token) for a token alone: no host's token holds a colon, so one that
    leaves no name or no secret is part of the token."""
    user, colon, secret = token.partition(":")
    return (user, secret) if colon and user and secret else ("", token)


def authorization(url: str, token: str) -> str:
    """The Authorization header that carries a marketplace's `token` to the host of `url`: HTTP Basic with
    the admin's name, or else the name the host's kind expects beside a token of its own (TOKEN_USERS;
    GitHub and Gitea read none). A self-hosted Bitbucket (Data Center) takes its project and repository
    tokens only as Bearer, and its personal ones either way, so a token alone goes to it as Bearer. Only a
    token of visible ASCII goes bare in a header: a line break in one would add headers of its own, where
    Basic carries any token base64-encoded."""
    user, secret = split_token(token)
    if not user and bitbucket_data_center(url) and re.fullmatch(r"[!-~]+", secret):
        return f"Bearer {secret}"
    user = user or TOKEN_USERS.get(host_kind(url), "x-access-token")
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def _env(token: str | None = None, url: str = "", extra: dict | None = None, *, protocols: str = "",
         config: list | None = None, ssh: str = "ssh -o BatchMode=yes") -> dict:
    """The environment of one git command: `protocols` are the only transports it may use
    (none by default: only `_talk_to`'s commands reach a remote); `config` adds settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "SSH_ASKPASS"))  # never inherit a caller's repo or config
    }
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="true",
        GIT_CONFIG_NOSYSTEM="1",
        # ext:: and fd:: run commands, and a remote may name another transport than its URL's.
        GIT_ALLOW_PROTOCOL=protocols,
        GIT_SSH_COMMAND=ssh,
        LC_ALL="C",
    )
    entries = []
    if token:
        entries.append(("http.extraHeader", f"Authorization: {authorization(url, token)}"))
    entries += config or []
    if entries:
        env["GIT_CONFIG_COUNT"] = str(len(entries))
        for index, (key, value) in enumerate(entries):
            env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    env.update(extra or {})
    return env


def local_env(extra: dict | None = None) -> dict:
    """The environment of a git command that reaches no remote, with `extra` variables."""
    return _env(extra=extra)


def run(args, *, git_dir=None, env=None, input=None, timeout=None) -> bytes:
    """Run git with `env` (from _env; no remote access by default) within `timeout` seconds."""
    timeout = settings.SKILLPORT_GIT_TIMEOUT if timeout is None else timeout
    cmd = ["git"]
    if git_dir:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    try:
        returncode, stdout, stderr = run_in_session(cmd, env=env or _env(), timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from None
    if returncode != 0:
        message = redact(stderr.decode("utf-8", "replace").strip()) or f"exit {returncode}"
        raise GitError(f"git {args[0]} failed: {message.splitlines()[-1][:500]}")
    return stdout


def _talk_to(url, args, *, git_dir=None, token=None) -> bytes:
    """Run a git command that talks to the remote `url`, retrying transient network errors.

    Every attempt checks the remote's address again; all of them together take at most
    SKILLPORT_GIT_TIMEOUT. A failure is a GitError that tells members only FETCH_FAILED.
    """
    deadline = time.monotonic() + settings.SKILLPORT_GIT_TIMEOUT
    for attempt in range(settings.SKILLPORT_GIT_RETRIES + 1):
        try:
            env = _remote_env(url, token)
            return run(args, git_dir=git_dir, env=env, timeout=max(deadline - time.monotonic(), 1))
        except addresses.InvalidURL as exc:
            raise GitError(f"invalid URL: {exc}") from None
        except addresses.Refused as exc:
            raise GitError(FETCH_FAILED, detail=str(exc)) from None
        except (GitError, OSError) as exc:
            detail = str(exc) if isinstance(exc, GitError) else f"cannot connect to {redact(url)}: {exc}"
            pause = 2 ** (attempt + 1)
            retry = isinstance(exc, OSError) or TRANSIENT.search(detail)
            if attempt == settings.SKILLPORT_GIT_RETRIES or not retry or time.monotonic() + pause >= deadline:
                raise GitError(FETCH_FAILED, detail=detail) from None
            log.info("git %s of %s failed, trying again in %ss: %s", args[0], redact(url), pause, detail)
            time.sleep(pause)


def _remote_env(url, token) -> dict:
    """The environment for talking to `url`: its own transport only, connecting to the checked address.

    DNS rebinding: a name may resolve to a public address when we check it and to an internal
    one a moment later, when git looks it up again. So git does not look it up: curl gets the
    checked address in its resolve list (http.curloptResolve, git 2.37), ssh in HostName (the
    host key is still checked under the name), and git:// URLs are rewritten to it (insteadOf).
    """
    if is_local(url):
        return _env(token, url, protocols="file")
    remote = addresses.parse(url)
    address = addresses.resolve(remote)
    timeout = settings.SKILLPORT_GIT_CONNECT_TIMEOUT
    bracketed = f"[{address}]" if ":" in address else address
    # A redirect could lead anywhere, internal addresses included, without being checked here.
    config = [("http.followRedirects", "false"),
              # A server that stops sending for this long fails the fetch (curl's stall timeout).
              ("http.lowSpeedLimit", "1"), ("http.lowSpeedTime", str(timeout))]
    ssh = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}",
           "-o", f"ServerAliveInterval={timeout}", "-o", "ServerAliveCountMax=2"]
    pinned = address != remote.host
    if remote.scheme in ("http", "https"):
        if pinned:
            config.append(("http.curloptResolve", f"{remote.host}:{remote.port}:{bracketed}"))
        addresses.connect(remote, address, timeout)  # curl's own connect timeout is 300 s
    elif remote.scheme == "git":
        if pinned:
            config.append((f"url.git://{bracketed}:{remote.port}.insteadOf", remote.prefix))
        addresses.connect(remote, address, timeout)  # git:// has no timeout at all
    elif pinned:
        ssh += ["-o", f"HostName={address}", "-o", f"HostKeyAlias={remote.host}"]
    return _env(token, url, protocols=remote.scheme, config=config, ssh=shlex.join(ssh))


def check_marketplace_url(url: str):
    """A marketplace's URL is an existing local folder or repository, or a git URL we fetch
    (https, http, ssh, git) that names a repository and carries no credentials; ValueError if not."""
    if is_local(url):
        if not Path(url.removeprefix("file://")).expanduser().exists():
            raise ValueError(f"No such folder or repository: {url}")
        return
    remote = addresses.parse(url)
    if remote.has_password or (remote.scheme != "ssh" and "@" in remote.prefix):
        raise ValueError("Put credentials in the marketplace's access token field, not in the URL.")


def ls_remote(url: str, ref: str = "HEAD", token: str | None = None) -> str:
    """The commit `ref` names in the repository at `url`, or "" when it names none; GitError when
    `url` serves no repository we may fetch."""
    out = _talk_to(url, ["ls-remote", "--", url, ref], token=token)
    return out.decode().split("\t", 1)[0] if out else ""


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
        folder = plain_folder(url)
        if folder is not None:
            return cls._snapshot(folder)
        repo = cls(cls.cache_path(url))
        with _locked(repo.git_dir):
            if not (repo.git_dir / "HEAD").exists():
                repo._clone(url, token)
            else:
                _talk_to(
                    url,
                    ["fetch", "--quiet", "--prune", "--force", "--tags", "origin", "+refs/heads/*:refs/heads/*"],
                    git_dir=repo.git_dir, token=token,
                )
            if sha and not repo.has_commit(sha):
                # A pinned commit that no branch reaches: ask for it by id.
                _talk_to(url, ["fetch", "--quiet", "origin", sha], git_dir=repo.git_dir, token=token)
        return repo, repo.resolve(sha or ref or "HEAD")

    @classmethod
    def holding(cls, url: str, sha: str, *, token: str | None = None) -> "Repository":
        """The cached repository of `url` with commit `sha` in it, fetched only when the cache lacks it.

        A plain local folder's snapshots live under their own key: the commits a sync made of it
        stay in that repository, so an older one can still be read.
        """
        folder = plain_folder(url)
        repo = cls(cls.cache_path(f"snapshot:{folder}" if folder is not None else url))
        if (repo.git_dir / "HEAD").exists() and repo.has_commit(sha):
            return repo
        if folder is not None:
            raise GitError(f"commit {sha} of the folder {folder.name} is no longer in the cache; sync it again")
        return cls.fetch(url, sha=sha, token=token)[0]

    def _clone(self, url, token):
        """Clone into a folder of its own, moved into place once complete.

        A clone cut short (a lost worker, a timeout) would otherwise leave a repository whose HEAD
        names a branch that does not exist, and every later sync would fail to read it.
        """
        shutil.rmtree(self.git_dir, ignore_errors=True)
        prefix = f"{self.git_dir.name}.partial-"
        for abandoned in self.git_dir.parent.glob(f"{prefix}*"):
            # Left by a process that died mid-clone (no live clone is older than the git timeout).
            if time.time() - abandoned.stat().st_mtime > 2 * settings.SKILLPORT_GIT_TIMEOUT:
                shutil.rmtree(abandoned, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=prefix, dir=self.git_dir.parent))
        try:
            _talk_to(url, ["clone", "--bare", "--quiet", "--", url, str(partial)], token=token)
            partial.rename(self.git_dir)
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    @classmethod
    def _snapshot(cls, folder: Path):
        """Commit the folder's files as they are, which is how Claude Code reads a folder marketplace: git's add would
        apply the folder's .gitattributes (CRLF made LF, a UTF-16 file made UTF-8) and the server user's git
        configuration (a filter, core.autocrlf) on the way in. The snapshot's own attributes, which outrank the
        folder's, turn all of that off, and so nothing a checkout of it would rewrite is reported: nobody checks
        a snapshot out."""
        repo = cls(cls.cache_path(f"snapshot:{folder}"))
        with _locked(repo.git_dir):
            if not (repo.git_dir / "HEAD").exists():
                run(["init", "--bare", "--quiet", str(repo.git_dir)])
            attributes = repo.git_dir / "info" / "attributes"
            if not attributes.exists() or attributes.read_text() != AS_THEY_ARE:
                attributes.parent.mkdir(exist_ok=True)
                attributes.write_text(AS_THEY_ARE)
                # The index keeps what an earlier add made of files unchanged since (an older release's snapshots):
                # without it, each is hashed again.
                (repo.git_dir / "snapshot-index").unlink(missing_ok=True)
            env = _env(extra={"GIT_INDEX_FILE": str(repo.git_dir / "snapshot-index"), "GIT_WORK_TREE": str(folder),
                              "GIT_CONFIG_GLOBAL": os.devnull})
            run(["add", "--all", "--force", "."], git_dir=repo.git_dir, env=env)
            tree = run(["write-tree"], git_dir=repo.git_dir, env=env).decode().strip()
            commit = run(["commit-tree", tree, "-m", f"Snapshot of {folder.name}"],
                         git_dir=repo.git_dir, env=_env(extra=SNAPSHOT_ENV)).decode().strip()
            run(["update-ref", "refs/heads/snapshot", commit], git_dir=repo.git_dir)
        return repo, commit

    def push(self, url: str, commit: str, ref: str, *, token: str | None = None):
        """Push `commit` to `ref` at `url`. Never forced: a branch that moved since `commit` was made
        on top of it refuses the push (GitError, git's reason in `detail`)."""
        _talk_to(url, ["push", "--quiet", "--", url, f"{commit}:{ref}"], git_dir=self.git_dir, token=token)

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
        """Every file below `subdir` at `commit`, keyed by path relative to `subdir`. Raises TooLarge."""
        treeish = f"{commit}:{subdir}" if subdir else commit
        entries = {}
        for record in tree_records(self.git_dir, treeish, "--long"):
            meta, _, path = record.partition(b"\t")
            mode, _kind, sha, size = meta.split()
            entries[path.decode("utf-8", "surrogateescape")] = Entry(
                mode.decode(), sha.decode(), -1 if size == b"-" else int(size)
            )
        return entries

    def attributes(self, commit: str, paths, names) -> dict[str, dict[str, str]]:
        """The git attributes `names` of each of `paths` at `commit` ({path: {name: "set", "unset", "unspecified" or
        a value}}), as the commit's .gitattributes files give them: what a checkout of it applies. No attributes file
        of this server's counts (`core.attributesFile`); the cache's clones have no `info/attributes`, a folder's
        snapshots have AS_THEY_ARE."""
        with tempfile.TemporaryDirectory(prefix="skillport-attributes-") as tmp:
            # git 2.39 reads attributes from a work tree or an index alone (--source came in 2.40): an index of its own.
            env = _env(extra={"GIT_INDEX_FILE": str(Path(tmp) / "index")},
                       config=[("core.attributesFile", os.devnull)])
            run(["read-tree", commit], git_dir=self.git_dir, env=env)
            out = run(["check-attr", "--cached", "-z", "--stdin", *names], git_dir=self.git_dir, env=env,
                      input=b"".join(path.encode("utf-8", "surrogateescape") + b"\0" for path in paths))
        fields = [field.decode("utf-8", "surrogateescape") for field in out.split(b"\0")]
        found = {}
        for path, name, value in zip(fields[0::3], fields[1::3], fields[2::3]):
            found.setdefault(path, {})[name] = value
        return found

    def blobs(self) -> "CatFile":
        return CatFile(self.git_dir)

    def sizes(self, shas) -> dict[str, int]:
        """The size of each object of `shas` the repository holds, without reading any."""
        asked = "".join(f"{sha}\n" for sha in shas).encode()
        out = run(["cat-file", "--batch-check"], git_dir=self.git_dir, input=asked)
        found = (line.split() for line in out.decode().splitlines())
        return {fields[0]: int(fields[2]) for fields in found if len(fields) == 3}


class CatFile:
    """One long-lived `git cat-file --batch` process: thousands of reads without a fork each."""

    def __init__(self, git_dir: Path):
        self._proc = subprocess.Popen(
            ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env(),
        )

    def read(self, sha: str) -> bytes:
        self._proc.stdin.write(f"{sha}\n".encode())
        self._proc.stdin.flush()
        return self._reply(sha)

    def read_many(self, shas):
        """Yield (sha, content) for each of `shas`, in order. A thread asks for them all at once while
        the replies are read here, so git streams them instead of waiting for one round trip each
        (a few thousand round trips cost a second). Stop early with `close()`: what is left is drained."""
        shas = list(shas)
        asking = threading.Thread(target=self._ask, args=(shas,), daemon=True)
        asking.start()
        read = 0
        try:
            for sha in shas:
                read += 1  # before: when _reply raises, the missing object's reply has been read
                yield sha, self._reply(sha)
        finally:
            for sha in shas[read:]:
                self._reply(sha, missing_ok=True)
            asking.join()

    def _ask(self, shas):
        self._proc.stdin.write("".join(f"{sha}\n" for sha in shas).encode())
        self._proc.stdin.flush()

    def _reply(self, sha: str, missing_ok=False) -> bytes:
        header = self._proc.stdout.readline().split()
        if len(header) != 3:
            if missing_ok:
                return b""
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


def plain_folder(url: str) -> Path | None:
    """The folder to snapshot when `url` is a local directory that is not a repository root."""
    if url.startswith("file://"):
        return None  # a file:// URL always means "clone this repository"
    path = Path(url).expanduser()
    if not path.is_dir():
        return None
    if (path / ".git").exists() or (path / "HEAD").is_file() and (path / "objects").is_dir():
        return None
    return path.resolve()

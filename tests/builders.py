"""Builders for test data: real git repositories, catalogues and SKILL.md files."""
import json
from io import StringIO
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


class Symlink(str):
    """A file value that makes `GitRepo.write` create a symlink to this target."""


class GitRepo:
    """A real git repository in a temporary folder, written and committed by tests."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args) -> str:
        env = {**os.environ, **GIT_ENV}
        out = subprocess.run(["git", *args], cwd=self.path, env=env, check=True, capture_output=True)
        return out.stdout.decode().strip()

    def write(self, files: dict):
        """Write files: str or bytes content, a Symlink, or None to delete."""
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                if target.is_symlink() or target.is_file():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.exists():
                target.unlink()
            if isinstance(content, Symlink):
                target.symlink_to(str(content))
            elif isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, files: dict | None = None, message="change") -> str:
        if files:
            self.write(files)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.head

    def commit_tree(self, tree: dict, message="plumbing") -> str:
        """Commit `tree` ({name: bytes, a Symlink or a dict of the same}) as the whole content. Tree objects are
        written byte by byte, so names no checkout can hold ('..', '/etc', 'C:') get in as they are."""
        commit = self._run("commit-tree", self._write_tree(tree), "-p", "HEAD", "-m", message).decode().strip()
        self.git("update-ref", "refs/heads/main", commit)
        return commit

    def commit_paths(self, files: dict, message="plumbing") -> str:
        """Commit `files` ({path: bytes or a Symlink}) on top of HEAD without writing them to the working tree: a
        path 1,100 folders deep is more than Python's recursive mkdir or rmtree (pytest's clean-up) takes, and a
        link to a path over 4,096 bytes more than a file system makes."""
        index = {"GIT_INDEX_FILE": str(self.path / ".git" / "plumbing-index")}
        self._run("read-tree", "HEAD", env=index)
        for path, content in files.items():
            mode, data = ("120000", content.encode()) if isinstance(content, Symlink) else ("100644", content)
            sha = self._run("hash-object", "-w", "--stdin", input=data).decode().strip()
            self._run("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", env=index)
        tree = self._run("write-tree", env=index).decode().strip()
        commit = self._run("commit-tree", tree, "-p", "HEAD", "-m", message).decode().strip()
        self.git("update-ref", "refs/heads/main", commit)
        return commit

    def _write_tree(self, tree: dict) -> str:
        records = []
        for name, value in tree.items():
            raw = name.encode("utf-8", "surrogateescape")
            if isinstance(value, dict):
                records.append((raw + b"/", b"40000 " + raw + b"\0" + bytes.fromhex(self._write_tree(value))))
            elif isinstance(value, Symlink):
                sha = self._run("hash-object", "-w", "--stdin", input=value.encode()).decode().strip()
                records.append((raw, b"120000 " + raw + b"\0" + bytes.fromhex(sha)))
            else:
                sha = self._run("hash-object", "-w", "--stdin", input=value).decode().strip()
                records.append((raw, b"100644 " + raw + b"\0" + bytes.fromhex(sha)))
        content = b"".join(record for _key, record in sorted(records))  # git's order: folders as "name/"
        return self._run("hash-object", "-t", "tree", "-w", "--literally", "--stdin", input=content).decode().strip()

    def _run(self, *args, input=None, env=None) -> bytes:
        return subprocess.run(["git", *args], cwd=self.path, env={**os.environ, **GIT_ENV, **(env or {})},
                              check=True, capture_output=True, input=input).stdout

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return str(self.path)


def skill_md(name, description="Does a useful thing.", body="# Title\n\nInstructions.\n", **extra) -> str:
    fields = {"name": name, "description": description, **extra}
    lines = [f"{k}: {json.dumps(v)}" for k, v in fields.items() if v is not None]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body


def catalog(*plugins, name="test-market", owner=None, **extra) -> str:
    data = {"name": name, "owner": owner if owner is not None else {"name": "Tests"}, "plugins": list(plugins), **extra}
    return json.dumps(data, indent=2)


def plugin_entry(name, source=None, **extra) -> dict:
    return {"name": name, "source": source if source is not None else f"./plugins/{name}", **extra}


def subprocess_database_url() -> str:
    """A DATABASE_URL for the test database, for processes the tests start."""
    from django.db import connection

    db = connection.settings_dict
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    # The embedded server's URL names its socket folder in the query, which lands in OPTIONS.
    host = db["HOST"] or db.get("OPTIONS", {}).get("host", "")
    if host.startswith("/"):  # a Unix socket folder
        return f"postgres://{user}{password}@/{db['NAME']}?host={quote(host)}"
    return f"postgres://{user}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for_run(marketplace, trigger, timeout=60):
    """The first finished SyncRun of `trigger`, polled from the database while a worker runs it."""
    from marketplace.models import Status, SyncRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = SyncRun.objects.filter(marketplace=marketplace, trigger=trigger).exclude(status=Status.RUNNING).first()
        if run:
            return run
        time.sleep(0.2)
    raise AssertionError(f"no finished {trigger} sync of {marketplace.slug} within {timeout}s")


def person(login, github_id, teams=(), orgs=("acme",)):
    """A user who signed in with GitHub: an org member, in `teams` ("org/team") if given."""
    from django.contrib.auth.models import User

    from marketplace.models import GitHubIdentity

    user = User.objects.create_user(login)
    GitHubIdentity.objects.create(user=user, github_id=github_id, login=login, orgs=list(orgs), teams=list(teams))
    return user


def run_command(*args):
    """(exit code, stdout) of a command, as a script would see them."""
    from django.core.management import call_command

    out = StringIO()
    try:
        call_command(*args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()

"""Files git rewrites as members check a plugin out, by the repository's .gitattributes (marketplace/gitattributes.py)."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from marketplace.models import Plugin, Skill
from marketplace.sync import sync_marketplace

from .builders import catalog, plugin_entry, skill_md
from .test_claude_code_oracle import claude_env, installed
from .test_curated import catalogue_folder, curated

SCRIPT = "#!/bin/sh\necho hello\n"


def files(**extra):
    return {
        ".claude-plugin/marketplace.json": catalog(plugin_entry("app"), plugin_entry("docs"), name="acme-skills"),
        "plugins/app/skills/run/SKILL.md": skill_md("run"),
        "plugins/app/skills/run/run.sh": SCRIPT,
        "plugins/app/hooks/hooks.json": json.dumps({"hooks": {}}),
        "plugins/docs/skills/notes/SKILL.md": skill_md("notes"),
        **extra,
    }


def rewrites(name="app"):
    return [p["message"] for p in Plugin.objects.get(name=name).problems if p["code"] == "checkout-rewrites"]


def skill_rewrites(name):
    return [p["message"] for p in Skill.objects.get(name=name).problems if p["code"] == "checkout-rewrites"]


def test_a_nested_attributes_file_that_rewrites_a_script_is_reported_on_its_plugin(make_repo, synced_marketplace):
    repo = make_repo(files(**{"plugins/app/skills/run/.gitattributes": "*.sh eol=crlf\nSKILL.md ident\n"}))
    synced_marketplace(repo, slug="acme")
    [message] = rewrites()
    assert "rewrite 2 of the plugin's file(s)" in message
    assert "skills/run/SKILL.md: $Id$ expanded (ident); skills/run/run.sh: line endings turned into CRLF (eol=crlf)" \
        in message
    assert rewrites("docs") == []  # its files are not below that folder
    # The skill's page says it too, of its own files: its .skill package holds them as approved.
    [said] = skill_rewrites("run")
    assert said.startswith("The repository's .gitattributes make git rewrite the skill's files as Claude Code checks "
                           "its plugin out (SKILL.md: $Id$ expanded (ident); run.sh: line endings turned into CRLF")
    assert skill_rewrites("notes") == []


def test_the_root_attributes_file_and_its_macros_count_as_git_reads_them(make_repo, synced_marketplace):
    repo = make_repo(files())
    # Committed without a checkout: git add would refuse to re-encode a UTF-8 file the attribute calls UTF-16.
    repo.commit_paths({".gitattributes": b"[attr]windows eol=crlf\nplugins/docs/**/*.md windows\n"
                                         b"*.json working-tree-encoding=UTF-16LE\n"})
    synced_marketplace(repo, slug="acme")
    assert "hooks/hooks.json: re-encoded as UTF-16LE (working-tree-encoding)" in rewrites()[0]
    assert "skills/notes/SKILL.md: line endings turned into CRLF (eol=crlf)" in rewrites("docs")[0]


@pytest.mark.parametrize("attributes", [
    "* text=auto\n*.png binary\n*.bin filter=lfs diff=lfs merge=lfs -text\n",  # nothing a checkout here rewrites
    "*.sh eol=crlf -text\n",  # -text turns the conversion off
    "*.sh eol=lf\n*.md working-tree-encoding=utf-8\n",  # what is committed
])
def test_attributes_no_checkout_acts_on_are_not_reported(make_repo, synced_marketplace, attributes):
    repo = make_repo(files(**{".gitattributes": attributes}))
    synced_marketplace(repo, slug="acme")
    assert rewrites() == [] and rewrites("docs") == []


def test_more_attributes_than_git_is_asked_about_are_a_warning_and_the_sync_goes_on(make_repo, synced_marketplace):
    """Git's answer takes time with the patterns times the files: a repository of megabytes of them is not asked."""
    patterns = "".join(f"plugins/app/x{n}/*.md eol=crlf\n" for n in range(12_000))
    repo = make_repo(files(**{"plugins/app/.gitattributes": patterns}))
    market = synced_marketplace(repo, slug="acme")
    assert market.first_run.status == "ok"
    [message] = rewrites()
    assert message.startswith("Whether a checkout rewrites the plugin's files is not known: its .gitattributes "
                              "files hold 3")
    assert rewrites("docs") == [message]  # the same repository: not known for its files either


def test_removing_the_attribute_clears_the_warning_on_the_next_sync(make_repo, synced_marketplace):
    repo = make_repo(files(**{"plugins/app/.gitattributes": "*.sh eol=crlf\n"}))
    market = synced_marketplace(repo, slug="acme")
    assert rewrites()
    assert skill_rewrites("run")
    repo.commit({"plugins/app/.gitattributes": "*.sh text\n"})
    assert sync_marketplace(market.pk).status == "ok"
    assert rewrites() == [] and skill_rewrites("run") == []  # the skill's files unchanged, its warning gone


def test_claude_code_installs_what_the_warning_says_and_leaves_an_lfs_pointer_alone(client, make_repo,
                                                                                  synced_marketplace, people, tmp_path):
    """The pinned CLI, installing from the curated catalogue with git-lfs set up as Debian sets it up: the file the
    warning names arrives rewritten, the others byte for byte, and an LFS pointer stays a pointer though the object
    is there for a plain clone to fetch (Claude Code clones with GIT_LFS_SKIP_SMUDGE=1), so none is reported."""
    if shutil.which("git-lfs") is None:
        message = "GIT LFS TEST NOT RUN: no git-lfs (apt-get install git-lfs)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)  # CI installs it (.ci/run); missing there is a failure
        pytest.skip(message)
    payload = b"#!/bin/sh\necho from LFS storage\n"
    oid = hashlib.sha256(payload).hexdigest()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(payload)}\n".encode()
    repo = make_repo(files(**{"plugins/app/.gitattributes": "*.sh eol=crlf\n*.lfs filter=lfs diff=lfs merge=lfs -text\n",
                              "plugins/app/skills/run/fetch.lfs": pointer}))
    stored = repo.path / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid
    stored.parent.mkdir(parents=True)
    stored.write_bytes(payload)
    synced_marketplace(repo, slug="acme")
    [message] = rewrites()
    assert "rewrite 1 of the plugin's file(s)" in message and "skills/run/run.sh: line endings" in message

    home = tmp_path / "home"
    env = claude_env(home)
    subprocess.run(["git", "lfs", "install"], env=env, cwd=home, check=True, capture_output=True)
    clone = tmp_path / "plain-clone"
    subprocess.run(["git", "clone", "--quiet", str(repo.path), str(clone)], env=env, check=True, capture_output=True)
    assert (clone / "plugins/app/skills/run/fetch.lfs").read_bytes() == payload  # what a smudging clone gets

    printed, errors = installed(catalogue_folder(tmp_path, curated(client, people["member"]).content.decode()),
                                "app@acme-skills", home)
    assert errors.get("app@acme-skills") == [], printed
    [folder] = {path.parent for path in home.glob(".claude/plugins/cache/acme-skills/app/*/skills/run/run.sh")}
    assert (folder / "run.sh").read_bytes() == SCRIPT.replace("\n", "\r\n").encode()
    assert (folder / "SKILL.md").read_bytes() == skill_md("run").encode()
    assert (folder / "fetch.lfs").read_bytes() == pointer

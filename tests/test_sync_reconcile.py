"""Reconciling: idempotent re-syncs, updates with revisions, tombstones, one sync at a time."""
import base64
import http.server
import json
import threading

import pytest
from django.db import connection

from marketplace import addresses, approval, pulls, scans
from marketplace.models import Blob, Marketplace, Plugin, Skill, SkillFile, SkillRevision, Status, SyncRun
from marketplace.reader import READER_VERSION
from marketplace.sync import sync_marketplace

from .builders import GitRepo, catalog, plugin_entry, skill_md


def snapshot_rows(marketplace):
    """Everything a sync could change, as comparable values."""
    return {
        "plugins": sorted(Plugin.objects.filter(marketplace=marketplace).values_list(
            "name", "version", "fingerprint", "removed_at", "last_seen_at")),
        "skills": sorted(Skill.objects.filter(marketplace=marketplace).values_list(
            "plugin__name", "slug", "content_hash", "updated_at", "removed_at")),
        "files": sorted(SkillFile.objects.filter(skill__marketplace=marketplace).values_list("skill__slug", "path", "blob_id")),
        "revisions": SkillRevision.objects.filter(skill__marketplace=marketplace).count(),
    }


@pytest.mark.django_db
def test_second_sync_of_same_commit_changes_nothing(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    first = sync_marketplace(m.pk)
    assert first.status == Status.OK
    assert first.counts == {"plugins": 1, "skills": 2, "files": 3, "added": 2, "updated": 0, "removed": 0,
                            "unreachable_skill_files": 0}
    before = snapshot_rows(m)
    second = sync_marketplace(m.pk)
    assert second.status == Status.UNCHANGED
    assert second.commit == first.commit
    assert second.counts["skills"] == 2 and second.counts["added"] == 0
    assert snapshot_rows(m) == before
    m.refresh_from_db()
    assert m.status == Status.OK and m.last_synced_commit == simple_repo.head


@pytest.mark.django_db
def test_new_commit_without_skill_changes_updates_nothing_but_versions(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    before = snapshot_rows(m)
    simple_repo.commit({"README.md": "docs only"})
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK
    assert (run.added, run.updated, run.removed) == (0, 0, 0)
    after = snapshot_rows(m)
    assert after["files"] == before["files"] and after["revisions"] == before["revisions"]
    assert [s[:5] for s in after["skills"]] == [s[:5] for s in before["skills"]]


@pytest.mark.django_db
def test_changed_skill_is_updated_with_a_revision(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    alpha = Skill.objects.get(marketplace=m, slug="alpha")
    simple_repo.commit({
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha does A better."),
        "plugins/tools/skills/alpha/scripts/run.py": None,
        "plugins/tools/skills/alpha/new.md": "new file",
    })
    run = sync_marketplace(m.pk)
    assert (run.added, run.updated, run.removed) == (0, 1, 0)
    alpha.refresh_from_db()
    assert alpha.description == "Alpha does A better."
    assert sorted(alpha.files.values_list("path", flat=True)) == ["SKILL.md", "new.md"]
    revisions = list(alpha.revisions.order_by("created_at"))
    assert len(revisions) == 2
    assert revisions[-1].commit == simple_repo.head
    assert revisions[0].content_hash != revisions[-1].content_hash
    # Old content stays addressable, so any two revisions can be compared later.
    assert all(Blob.objects.filter(sha=f["sha"]).exists() for r in revisions for f in r.files)


@pytest.mark.django_db
def test_removals_leave_tombstones_and_return_revives(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    simple_repo.commit({"plugins/tools/skills/beta/SKILL.md": None})
    run = sync_marketplace(m.pk)
    assert run.removed == 1
    beta = Skill.objects.get(marketplace=m, slug="beta")
    assert beta.removed_at is not None
    assert SkillFile.objects.filter(skill=beta).exists()  # history is kept

    simple_repo.commit({".claude-plugin/marketplace.json": catalog()})
    run = sync_marketplace(m.pk)
    plugin = Plugin.objects.get(marketplace=m, name="tools")
    assert plugin.removed_at is not None
    assert not Skill.objects.filter(marketplace=m, removed_at=None).exists()
    assert run.counts["plugins"] == 0 and run.counts["skills"] == 0

    simple_repo.commit({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
        "plugins/tools/skills/beta/SKILL.md": skill_md("beta", "Beta does B."),
    })
    sync_marketplace(m.pk)
    beta.refresh_from_db()
    plugin.refresh_from_db()
    assert beta.removed_at is None and plugin.removed_at is None
    assert Skill.objects.filter(marketplace=m, slug="beta").count() == 1


@pytest.mark.django_db
def test_same_content_in_two_plugins_is_stored_once(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(
            plugin_entry("a", "./", strict=False, skills=["./skills/shared"]),
        ),
        "skills/shared/SKILL.md": skill_md("shared"),
        "skills/shared/big.txt": "x" * 10000,
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    repo.commit({".claude-plugin/marketplace.json": catalog(
        plugin_entry("a", "./", strict=False, skills=["./skills/shared"]),
        plugin_entry("b", "./", strict=False, skills=["./skills/shared"]),
    )})
    run = sync_marketplace(m.pk)
    assert run.added == 1
    b = Skill.objects.get(plugin__name="b")
    # Copied from the known skill without re-reading: the content is all there.
    assert b.description == "Does a useful thing." and b.body.startswith("# Title")
    assert b.spec_valid
    assert Blob.objects.filter(sha__in=b.files.values("blob_id")).count() == 2
    assert SkillFile.objects.filter(path="big.txt").values("blob_id").distinct().count() == 1


@pytest.mark.django_db
def test_access_rules_and_catalogue_fields_are_stored(make_repo, make_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("p"), name="acme", description="Acme skills",
                                                   renames={"old": "p"}),
        ".skillport/access.json": '{"defaults": {"read": "*"}, "skills": {"x": {"read": ["github:@acme/core"]}}}',
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    m.refresh_from_db()
    assert m.name == "acme" and m.description == "Acme skills"
    assert m.renames == {"old": "p"}
    assert m.access_rules["skills"]["x"]["read"] == ["github:@acme/core"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_syncs_give_one_result_and_no_duplicates(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    results, barrier = [], threading.Barrier(2)

    def worker():
        barrier.wait()
        try:
            results.append(sync_marketplace(m.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # One did the work; the other waited for the lock and then found nothing new.
    assert sorted(results) == [Status.OK, Status.UNCHANGED]
    assert Skill.objects.filter(marketplace=m).count() == 2
    assert Plugin.objects.filter(marketplace=m).count() == 1
    assert SkillRevision.objects.filter(skill__marketplace=m).count() == 2
    assert SyncRun.objects.filter(marketplace=m).count() == 2


@pytest.mark.django_db
def test_progress_is_recorded_and_run_finishes(simple_repo, make_marketplace):
    m = make_marketplace(simple_repo)
    phases = []
    run = sync_marketplace(m.pk, progress=lambda phase, done, total: phases.append(phase))
    assert {"fetch", "plugins", "skills", "save"} <= set(phases)
    run.refresh_from_db()
    assert run.progress == {"phase": "done"}
    assert run.finished_at >= run.started_at


@pytest.mark.django_db
def test_access_token_is_encrypted_at_rest_and_never_in_the_url(simple_repo, make_marketplace, settings):
    m = make_marketplace(simple_repo, access_token="ghp_supersecret")
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, git_url FROM marketplace_marketplace WHERE id = %s", [m.pk])
        stored, url = cursor.fetchone()
    assert "ghp_supersecret" not in stored and "ghp_supersecret" not in url
    assert Marketplace.objects.get(pk=m.pk).access_token == "ghp_supersecret"
    run = sync_marketplace(m.pk)
    assert run.status == Status.OK
    cache_configs = list(settings.SKILLPORT_DATA_DIR.rglob("config"))
    assert cache_configs and all("supersecret" not in p.read_text() for p in cache_configs)


def test_token_travels_as_a_header_in_the_environment():
    from marketplace.gitrepo import _env

    env = _env("tok3n", "https://gitlab.com/acme/skills.git")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert base64.b64decode(env["GIT_CONFIG_VALUE_0"].split()[-1]) == b"oauth2:tok3n"
    assert "ext" not in env["GIT_ALLOW_PROTOCOL"].split(":")
    assert "GIT_CONFIG_KEY_0" not in _env(None, "https://github.com/a/b")


def sent(url, token):
    """What the Authorization header carries: ("Basic", name, secret) or ("Bearer", token)."""
    from marketplace.gitrepo import authorization

    scheme, _, value = authorization(url, token).partition(" ")
    return (scheme, *base64.b64decode(value).decode().split(":", 1)) if scheme == "Basic" else (scheme, value)


def test_a_colon_that_leaves_no_name_or_no_token_is_part_of_the_token():
    url = "https://gitlab.com/acme/skills.git"
    assert sent(url, ":glpat-x") == ("Basic", "oauth2", ":glpat-x")
    assert sent(url, "bot:") == ("Basic", "oauth2", "bot:")
    assert sent(url, "bot:a:b") == ("Basic", "bot", "a:b")  # the name ends at the first colon
    assert sent("https://github.com/a/b", "ghp_x") == ("Basic", "x-access-token", "ghp_x")


def test_a_token_alone_goes_as_its_kind_of_host_expects(settings):
    """Self-hosted hosts declared in SKILLPORT_GIT_HOSTS get their kind's name: GitLab reads an OAuth token only
    as oauth2's, and Bitbucket Data Center its project and repository tokens only as Bearer."""
    settings.SKILLPORT_GIT_HOSTS = {"git.example.com": "gitlab", "bb.example.com": "bitbucket",
                                    "code.example.org": "gitea"}
    assert sent("https://git.example.com/acme/skills.git", "ya29") == ("Basic", "oauth2", "ya29")
    assert sent("https://bitbucket.org/acme/skills.git", "ATCTT") == ("Basic", "x-token-auth", "ATCTT")
    assert sent("https://bb.example.com/scm/acme/skills.git", "BBDC-x") == ("Bearer", "BBDC-x")
    assert sent("https://bb.example.com/scm/acme/skills.git", "jo:BBDC-x") == ("Basic", "jo", "BBDC-x")
    assert sent("https://code.example.org/acme/skills.git", "gta") == ("Basic", "x-access-token", "gta")
    # A line break in a token would write headers of its own after Bearer: Basic encodes it.
    assert sent("https://bb.example.com/scm/a/s.git", "t\r\nX-Evil 1") == ("Basic", "x-token-auth", "t\r\nX-Evil 1")


@pytest.mark.django_db
def test_a_self_hosted_bitbucket_is_sent_its_token_as_bearer(fake_github, settings, tmp_path):
    """A Bitbucket Data Center project or repository token is refused in Basic credentials: it reads once the
    host is declared a Bitbucket in SKILLPORT_GIT_HOSTS."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    path = fake_github.add_repo("acme/dc")
    seed = GitRepo(tmp_path / "seed")
    seed.commit({".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
                 "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha.")}, "seed")
    seed.git("push", "--quiet", str(path), "main")
    fake_github.add_bearer_token("acme/dc", "BBDC-SECRET")
    m = Marketplace.objects.create(slug="dc", git_url=f"{fake_github.base_url}/acme/dc.git", access_token="BBDC-SECRET")

    refused = sync_marketplace(m.pk)  # a host of no known kind: Basic, under x-access-token
    assert refused.status == Status.FAILED and "BBDC-SECRET" not in refused.error
    assert "Authentication failed" in refused.problems[0]["detail"]
    settings.SKILLPORT_GIT_HOSTS = {"127.0.0.1": "bitbucket"}
    assert sync_marketplace(m.pk).status == Status.OK
    assert list(Skill.objects.filter(marketplace=m).values_list("slug", flat=True)) == ["alpha"]


@pytest.mark.django_db
def test_a_token_checked_with_a_user_name_is_given_before_a_colon(fake_github, settings, tmp_path):
    """GitLab's deploy tokens, Bitbucket's API tokens: the host checks the token with a name of its own, which
    the admin gives as `name:token`. Both go in HTTP Basic credentials; GitHub's API is sent the token alone."""
    settings.SKILLPORT_GITHUB_URL = fake_github.base_url
    path = fake_github.add_repo("acme/private")
    seed = GitRepo(tmp_path / "seed")
    seed.commit({".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
                 "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha.")}, "seed")
    seed.git("push", "--quiet", str(path), "main")
    fake_github.add_deploy_token("acme/private", "deploy-bot", "gldt-SECRET")
    m = Marketplace.objects.create(slug="private", git_url=f"{fake_github.base_url}/acme/private.git",
                                   access_token="gldt-SECRET")

    refused = sync_marketplace(m.pk)  # sent under x-access-token
    assert refused.status == Status.FAILED and "gldt-SECRET" not in refused.error
    m.access_token = "deploy-bot:gldt-SECRET"
    m.save()
    assert sync_marketplace(m.pk).status == Status.OK
    assert list(Skill.objects.filter(marketplace=m).values_list("slug", flat=True)) == ["alpha"]
    assert pulls.Client("acme/private", "deploy-bot:gldt-SECRET").token == "gldt-SECRET"


@pytest.mark.django_db
def test_rows_created_by_copy_read_back_as_saved_rows(simple_repo, make_marketplace):
    """Syncs create plugins and skills with COPY (marketplace.bulk.create): every field as a save
    writes it, generated columns filled, and ids from the sequence that later inserts continue."""
    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    alpha = Skill.objects.get(slug="alpha")
    assert alpha.frontmatter["name"] == "alpha" and alpha.readers == ["*"] and alpha.audience == []
    assert alpha.verdict_reasons.keys() == {"claude_code", "agent_skills_spec", "claude_ai"}
    assert Skill.objects.filter(pk=alpha.pk, search_vector="alpha").exists()
    tools = Plugin.objects.get(name="tools")
    assert tools.shown_display_name == tools.display_name and tools.entry["name"] == "tools"
    assert alpha.plugin_id == tools.pk and alpha.revisions.count() == 1
    later = Skill.objects.create(marketplace=m, plugin=tools, name="later", slug="later", path="x", content_hash="0")
    assert later.pk > max(Skill.objects.exclude(pk=later.pk).values_list("pk", flat=True))


@pytest.mark.django_db
def test_rows_updated_by_copy_take_exactly_the_fields_named(simple_repo, make_marketplace, django_assert_num_queries):
    """marketplace.bulk.update writes the fields named, each converted as a save converts it (JSON, arrays,
    dates, foreign keys, NULL), in the rows named, and nothing else; the generated search vector follows."""
    from django.utils import timezone

    from marketplace import bulk

    m = make_marketplace(simple_repo)
    sync_marketplace(m.pk)
    alpha, beta = Skill.objects.get(slug="alpha"), Skill.objects.get(slug="beta")
    other = Plugin.objects.create(marketplace=m, name="other", source_kind="relative", source={"path": "o"},
                                  entry={"name": "other"})
    untouched, body = Skill.objects.filter(pk=beta.pk).values().get(), alpha.body
    gone = timezone.now()
    alpha.description, alpha.frontmatter, alpha.readers = "Quokka's 'quoted' \\ tab\there.", {"n": [1, None]}, []
    alpha.removed_at, alpha.plugin, alpha.body = gone, other, "not written"
    beta.description = "Written only if named."

    bulk.update([alpha], ["description", "frontmatter", "readers", "removed_at", "plugin"])

    row = Skill.objects.get(pk=alpha.pk)
    assert (row.description, row.frontmatter, row.readers) == ("Quokka's 'quoted' \\ tab\there.", {"n": [1, None]}, [])
    assert (row.removed_at, row.plugin_id, row.body) == (gone, other.pk, body)
    assert Skill.objects.filter(pk=alpha.pk, search_vector="quokka").exists()
    assert Skill.objects.filter(pk=beta.pk).values().get() == untouched
    alpha.removed_at = None
    bulk.update([alpha], ["removed_at"])
    assert Skill.objects.get(pk=alpha.pk).removed_at is None
    with django_assert_num_queries(0):
        bulk.update([], ["description"])


def row_versions(model, **filters):
    """{id: xmin}: PostgreSQL gives a row a new xmin whenever it is written, even to the same values."""
    table = model._meta.db_table
    where = " AND ".join(f"{column} = %s" for column in filters) or "TRUE"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, xmin::text FROM {table} WHERE {where}", list(filters.values()))
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)  # each sync commits: rows written by another get another xmin
@pytest.mark.parametrize("requires_approval", [False, True])
def test_one_changed_skill_rewrites_only_its_own_rows(make_repo, make_marketplace, requires_approval):
    files = {".claude-plugin/marketplace.json": catalog(plugin_entry("tools"), plugin_entry("docs"))}
    for plugin in ("tools", "docs"):
        for name in ("alpha", "beta", "gamma"):
            files[f"plugins/{plugin}/skills/{plugin}-{name}/SKILL.md"] = skill_md(f"{plugin}-{name}", f"{name} of {plugin}.")
            files[f"plugins/{plugin}/skills/{plugin}-{name}/notes.md"] = f"notes of {plugin} {name}\n"
    repo = make_repo(files)
    m = make_marketplace(repo, requires_approval=requires_approval)
    sync_marketplace(m.pk)
    if requires_approval:
        approval.approve(SkillRevision.objects.filter(status=SkillRevision.Status.PENDING), None)
    skills = row_versions(Skill, marketplace_id=m.pk)
    file_rows = {pk: v for pk, v in row_versions(SkillFile).items()}
    revisions = row_versions(SkillRevision)
    changed = Skill.objects.get(marketplace=m, slug="tools-beta")

    repo.commit({"plugins/tools/skills/tools-beta/SKILL.md": skill_md("tools-beta", "Beta, better.")})
    run = sync_marketplace(m.pk)

    assert (run.status, run.added, run.updated, run.removed) == ("ok", 0, 1, 0)
    after = row_versions(Skill, marketplace_id=m.pk)
    assert {pk for pk in skills if after[pk] != skills[pk]} == {changed.pk}
    other_files = {pk: v for pk, v in row_versions(SkillFile).items() if pk in file_rows}
    rewritten = {pk for pk, v in other_files.items() if v != file_rows[pk]}
    assert not SkillFile.objects.filter(pk__in=rewritten).exclude(skill=changed).exists()
    new_revisions = SkillRevision.objects.exclude(pk__in=list(revisions))
    assert list(new_revisions.values_list("skill_id", flat=True)) == [changed.pk]
    assert {pk for pk, v in row_versions(SkillRevision).items() if pk in revisions and v != revisions[pk]} == set()
    changed.refresh_from_db()
    if requires_approval:  # members keep the approved content; the change waits
        assert changed.description == "beta of tools." and changed.pending_revision_id == new_revisions.get().pk
    else:
        assert changed.description == "Beta, better."


JUDGED = ("name", "command", "description", "body_html", "loads_in_claude_code", "spec_valid", "claude_ai_uploadable",
          "verdict_reasons", "problems", "updated_at", "released")


def as_an_older_reader_left_it(marketplace):
    """What a Skillport from before this reader stored: every skill judged by older rules (none here, and a
    body rendered another way), and a fingerprint that is not this reader's."""
    Skill.objects.filter(marketplace=marketplace).update(
        verdict_reasons={}, problems=[], body_html="<p>rendered by an older Skillport</p>", command="")
    Marketplace.objects.filter(pk=marketplace.pk).update(
        reader_version=READER_VERSION - 1, last_sync_fingerprint="read by an older reader")


@pytest.mark.django_db
def test_a_newer_reader_judges_every_stored_skill_again(make_repo, make_marketplace):
    """An upgrade's new rules reach skills whose content has not changed since it was stored, at the next sync,
    and move nothing else: no revision, no new updated_at, no count."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
        # A rule of reader 6: claude plugin validate refuses allowed-tools that are not strings.
        "plugins/tools/skills/alpha/SKILL.md": "---\nname: alpha\ndescription: Alpha.\nallowed-tools: 3\n---\n# Alpha\n",
        "plugins/tools/skills/beta/SKILL.md": skill_md("beta", "Beta."),
    })
    m = make_marketplace(repo)
    assert sync_marketplace(m.pk).status == Status.OK
    judged = {row[0]: row for row in Skill.objects.filter(marketplace=m).values_list("slug", *JUDGED)}
    assert "'allowed-tools' must be a string or a list of strings" in str(judged["alpha"])
    before = snapshot_rows(m)

    as_an_older_reader_left_it(m)
    run = sync_marketplace(m.pk)
    assert (run.status, run.added, run.updated, run.removed) == (Status.OK, 0, 0, 0)
    assert {row[0]: row for row in Skill.objects.filter(marketplace=m).values_list("slug", *JUDGED)} == judged
    after = snapshot_rows(m)
    assert [plugin[:4] for plugin in after.pop("plugins")] == [plugin[:4] for plugin in before.pop("plugins")]
    assert after == before  # and the plugin was seen again, as at any sync that reads
    m.refresh_from_db()
    assert m.reader_version == READER_VERSION

    Skill.objects.filter(marketplace=m).update(verdict_reasons={})  # judged by this reader: not read again
    assert sync_marketplace(m.pk).status == Status.UNCHANGED
    assert list(Skill.objects.filter(marketplace=m).values_list("verdict_reasons", flat=True)) == [{}, {}]


@pytest.mark.django_db
def test_what_claude_code_calls_a_skill_follows_its_folder_and_the_paths_that_point_at_it(make_repo, make_marketplace):
    """A skill Claude Code finds in a folder of skill folders is called by its folder; one a skills path points at
    directly, by its name: a change of the entry alone (the skill's content as it was) renames it."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools", skills=["./extra"])),
        "plugins/tools/extra/pdf.tools/SKILL.md": skill_md("PDF Tools", "Reads PDFs."),
    })
    m = make_marketplace(repo)
    assert sync_marketplace(m.pk).status == Status.OK
    skill = Skill.objects.get(marketplace=m)
    assert (skill.name, skill.command, skill.invocation) == ("PDF Tools", "tools:pdf-tools", "tools:pdf-tools")
    as_an_older_reader_left_it(m)
    sync_marketplace(m.pk)
    assert Skill.objects.get(marketplace=m).command == "tools:pdf-tools"  # judged again

    repo.commit({".claude-plugin/marketplace.json": catalog(plugin_entry("tools", skills=["./extra/pdf.tools"]))})
    run = sync_marketplace(m.pk)
    assert (run.status, run.updated) == (Status.OK, 0)
    assert Skill.objects.get(marketplace=m).command == "tools:PDF-Tools"

    # Named otherwise in a plugin.json, the plugin's skills are called by that name.
    repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "pdf"}'})
    sync_marketplace(m.pk)
    assert Skill.objects.get(marketplace=m).invocation == "pdf:PDF-Tools"
    # A name as long as a plugin.json may give (no column limit keeps the skill from being stored).
    repo.commit({"plugins/tools/.claude-plugin/plugin.json": json.dumps({"name": "p" * 5000})})
    assert sync_marketplace(m.pk).status == Status.OK
    assert Skill.objects.get(marketplace=m, removed_at=None).invocation == "p" * 5000 + ":PDF-Tools"
    # Not a name that hides characters, which the skill page would show as the command to type.
    repo.commit({"plugins/tools/.claude-plugin/plugin.json": '{"name": "p\\u200bdf"}'})
    sync_marketplace(m.pk)
    assert Skill.objects.get(marketplace=m).invocation == "tools:PDF-Tools"


@pytest.mark.django_db
def test_judging_again_keeps_what_the_security_scan_said_of_the_same_content(simple_repo, make_marketplace):
    """The scan's reasons are about content the newer reader did not find changed: they stay beside its verdicts,
    not gone until the next scan puts them back."""
    m = make_marketplace(simple_repo)
    assert sync_marketplace(m.pk).status == Status.OK
    scans.refresh_served(m)  # as the scan task that follows a sync does
    scanned = dict(Skill.objects.filter(marketplace=m).values_list("slug", "verdict_reasons__security_scan"))
    assert scanned and all(scanned.values())
    judged = dict(Skill.objects.filter(marketplace=m).values_list("slug", "verdict_reasons"))

    for slug, reasons in judged.items():  # judged by older rules, then scanned
        Skill.objects.filter(marketplace=m, slug=slug).update(verdict_reasons={
            "claude_code": ["an older reader's reason"], "security_scan": reasons["security_scan"]})
    Marketplace.objects.filter(pk=m.pk).update(reader_version=READER_VERSION - 1, last_sync_fingerprint="older")
    assert sync_marketplace(m.pk).status == Status.OK
    assert dict(Skill.objects.filter(marketplace=m).values_list("slug", "verdict_reasons")) == judged


@pytest.mark.django_db
def test_a_newer_reader_judges_the_content_waiting_for_approval_again(make_repo, make_marketplace):
    """The approved content members see while a change waits is no longer in the repository, so it keeps its
    judgement until the change is decided; approving it brings the newer reader's."""
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("tools")),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha."),
    })
    m = make_marketplace(repo, requires_approval=True)
    sync_marketplace(m.pk)
    SkillRevision.objects.filter(skill__marketplace=m).update(status=SkillRevision.Status.APPROVED)
    Skill.objects.filter(marketplace=m).update(released=True)
    repo.commit({"plugins/tools/skills/alpha/SKILL.md":
                 "---\nname: alpha\ndescription: Alpha, changed.\nallowed-tools: 3\n---\n# Alpha\n"})
    assert sync_marketplace(m.pk).status == Status.OK
    waiting = SkillRevision.objects.get(status=SkillRevision.Status.PENDING)
    content = waiting.content
    assert "'allowed-tools' must be a string" in str(content["verdict_reasons"])

    as_an_older_reader_left_it(m)
    SkillRevision.objects.filter(pk=waiting.pk).update(content={**content, "verdict_reasons": {}, "problems": []})
    assert sync_marketplace(m.pk).status == Status.OK
    assert SkillRevision.objects.get(pk=waiting.pk).content == content
    assert SkillRevision.objects.filter(skill__marketplace=m).count() == 2  # staged once, judged again in place
    assert Skill.objects.values_list("body_html", "verdict_reasons").get() == (
        "<p>rendered by an older Skillport</p>", {})

    approval.approve(SkillRevision.objects.filter(pk=waiting.pk), None)
    skill = Skill.objects.get()
    assert (skill.description, skill.verdict_reasons["claude_code"], skill.body_html) == (
        "Alpha, changed.", content["verdict_reasons"]["claude_code"], content["body_html"])


@pytest.mark.django_db
def test_a_plugin_that_cannot_be_read_has_its_skills_judged_again_once_it_can(make_repo, make_marketplace):
    listed = [plugin_entry("tools"), plugin_entry("other")]
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(*listed),
        "plugins/tools/skills/alpha/SKILL.md": skill_md("alpha", "Alpha."),
        "plugins/other/skills/beta/SKILL.md": skill_md("beta", "Beta."),
    })
    m = make_marketplace(repo)
    sync_marketplace(m.pk)
    judged = dict(Skill.objects.filter(marketplace=m).values_list("slug", "body_html"))

    as_an_older_reader_left_it(m)
    repo.commit({".claude-plugin/marketplace.json": catalog(listed[0], plugin_entry("other", source="./nowhere"))})
    assert sync_marketplace(m.pk).status == Status.PARTIAL
    assert dict(Skill.objects.filter(marketplace=m).values_list("slug", "body_html")) == {
        "alpha": judged["alpha"], "beta": "<p>rendered by an older Skillport</p>"}  # beta kept as it was
    assert Marketplace.objects.get(pk=m.pk).reader_version == READER_VERSION - 1

    repo.commit({".claude-plugin/marketplace.json": catalog(*listed)})
    assert sync_marketplace(m.pk).status == Status.OK
    assert dict(Skill.objects.filter(marketplace=m).values_list("slug", "body_html")) == judged
    assert Marketplace.objects.get(pk=m.pk).reader_version == READER_VERSION


@pytest.mark.parametrize("a, b, same", [
    ("https://git.acme.example/a/m.git", "https://git.acme.example/b/p.git", True),
    ("https://git.acme.example/a/m.git", "https://GIT.acme.example:443/b/p", True),
    ("https://git.acme.example/a/m.git", "http://git.acme.example/b/p.git", False),  # in clear
    ("https://git.acme.example/a/m.git", "https://git.acme.example:8443/b/p.git", False),  # another service
    ("https://git.acme.example/a/m.git", "https://git.acme.example.evil.example/b/p.git", False),
    ("git@git.acme.example:a/m.git", "https://git.acme.example/b/p.git", False),
    ("/srv/repos/m.git", "/srv/repos/p.git", False),
])
def test_a_credential_goes_only_where_its_repository_is(a, b, same):
    assert addresses.same_origin(a, b) is same


@pytest.mark.parametrize("url, reach, reached", [
    ("https://github.com/acme/skills", "repository", True),
    ("https://github.com/acme/skills.git/", "repository", True),
    ("https://github.com/acme/tools.git", "repository", False),
    ("https://github.com/acme/tools.git", "owner", True),
    ("https://github.com/Acme/tools.git", "owner", False),  # as written: another owner where case counts
    ("https://github.com/other/tools.git", "owner", False),
    ("https://github.com/other/tools.git", "server", True),
    ("https://github.com/acme/../other/tools.git", "owner", False),  # curl would ask for /other/tools.git
    ("https://github.com/acme/%2e%2e/other/tools.git", "owner", False),
    ("https://github.com/acme//tools.git", "owner", False),
    ("https://github.com/acme/tools.git?x=/acme/skills", "owner", False),
    ("https://gitlab.com/acme/tools.git", "server", False),  # another server, whatever the reach
    ("http://github.com/acme/skills.git", "server", False),
])
def test_the_token_reaches_as_far_as_the_admin_lets_it(url, reach, reached):
    assert addresses.within_reach(url, "https://github.com/acme/skills.git", reach) is reached


def test_a_token_reaches_the_repositories_beside_it_in_a_group_or_project():
    home = "https://git.acme.example/scm/platform/skills.git"  # Bitbucket Data Center: /scm/<project>/<repo>
    assert addresses.within_reach("https://git.acme.example/scm/platform/tools.git", home, "owner")
    assert not addresses.within_reach("https://git.acme.example/scm/finance/payroll.git", home, "owner")
    assert addresses.within_reach("git@github.com:acme/tools.git", "git@github.com:acme/skills.git", "owner")


@pytest.mark.django_db
@pytest.mark.parametrize("reach, given", [("repository", []), ("owner", ["ours"]), ("server", ["ours", "theirs"])])
def test_publishing_reads_a_source_with_the_token_only_where_it_reaches(reach, given):
    """Publishing and the scan read a plugin's files again from its source (pluginfiles.location): the same reach."""
    from marketplace import pluginfiles

    market = Marketplace.objects.create(slug="acme", git_url="https://git.acme.example/acme/skills.git",
                                        access_token="tok3n", token_reach=reach)
    sources = {"ours": "https://git.acme.example/acme/tools.git", "theirs": "https://git.acme.example/other/x.git"}
    tokens = {}
    for name, url in sources.items():
        plugin = Plugin.objects.create(marketplace=market, name=name, source_kind="url",
                                       entry={"name": name, "source": {"source": "url", "url": url}})
        tokens[name] = pluginfiles.location(plugin, plugin.entry)[1]
    assert sorted(name for name, token in tokens.items() if token == "tok3n") == given
    assert all(token in (None, "tok3n") for token in tokens.values())


@pytest.mark.django_db
@pytest.mark.parametrize("reach, fetched", [("repository", []), ("owner", ["ours"]), ("server", ["ours", "theirs"])])
def test_a_catalogue_fetches_with_the_token_only_what_it_reaches(fake_github, settings, tmp_path, reach, fetched):
    """A token able to read more than the marketplace (a person's, or an organisation's) must not let a catalogue's
    author sync, and so show members, any repository it reads: past its reach the source is fetched without it."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    fake_github.add_user("reader-bot")
    for name in ("acme/tools", "other/secret"):
        upstream = GitRepo(tmp_path / name)
        upstream.commit({"skills/gh/SKILL.md": skill_md(name.replace("/", "-"), "Private.")}, "seed")
        upstream.git("push", "--quiet", str(fake_github.add_repo(name, readers=["reader-bot"])), "main")
    seed = GitRepo(tmp_path / "seed")
    seed.commit({".claude-plugin/marketplace.json": catalog(
        plugin_entry("ours", {"source": "url", "url": f"{fake_github.base_url}/acme/tools.git"}),
        plugin_entry("theirs", {"source": "url", "url": f"{fake_github.base_url}/other/secret.git"}))}, "seed")
    seed.git("push", "--quiet", str(fake_github.add_repo("acme/skills", readers=["reader-bot"])), "main")
    m = Marketplace.objects.create(slug="acme", git_url=f"{fake_github.base_url}/acme/skills.git",
                                   access_token=fake_github.issue_token("reader-bot"), token_reach=reach)
    run = sync_marketplace(m.pk)
    assert sorted(Skill.objects.filter(marketplace=m).values_list("plugin__name", flat=True)) == fetched
    failed = [p for p in run.problems if p["code"] == "source-fetch-failed"]
    assert len(failed) == 2 - len(fetched)
    assert all("The marketplace's access token was not sent" in p["message"] for p in failed)


@pytest.mark.django_db
def test_the_marketplaces_token_goes_to_a_source_of_its_own_server_alone(fake_github, settings, tmp_path):
    """A catalogue's author names the sources: one on the marketplace's host at another port, or over http, got
    the organisation's token in an Authorization header, readable by whoever listens there."""
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    heard = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            heard.append(self.headers.get("Authorization"))
            self.send_error(404)

        def log_message(self, *args):
            pass

    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    fake_github.add_user("reader-bot")
    tools = fake_github.add_repo("acme/tools", readers=["reader-bot"])  # private: cloned with the token alone
    upstream = GitRepo(tmp_path / "upstream")
    upstream.commit({"skills/gh/SKILL.md": skill_md("gh", "From the same server.")}, "seed")
    upstream.git("push", "--quiet", str(tools), "main")
    path = fake_github.add_repo("acme/skills", readers=["reader-bot"])
    seed = GitRepo(tmp_path / "seed")
    elsewhere = f"http://127.0.0.1:{listener.server_port}/acme/tools.git"
    seed.commit({".claude-plugin/marketplace.json": catalog(
        plugin_entry("ours", {"source": "url", "url": f"{fake_github.base_url}/acme/tools.git"}),
        plugin_entry("theirs", {"source": "url", "url": elsewhere}))}, "seed")
    seed.git("push", "--quiet", str(path), "main")
    token = fake_github.issue_token("reader-bot")
    m = Marketplace.objects.create(slug="acme", git_url=f"{fake_github.base_url}/acme/skills.git", access_token=token)
    try:
        run = sync_marketplace(m.pk)
    finally:
        listener.shutdown()
    assert list(Skill.objects.filter(marketplace=m).values_list("slug", flat=True)) == ["gh"]
    assert [p["code"] for p in run.problems if "theirs" in p.get("location", "")] == ["source-fetch-failed"]
    assert heard and not any(heard)

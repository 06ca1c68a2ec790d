"""A publish run (publishing/runs.py) of a ZIP target: what it records, what it keeps, what it refuses."""
import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Action, AuditEvent
from marketplace import approval
from marketplace.models import Plugin, Policy, SkillRevision
from marketplace.sync import sync_marketplace
from publishing import runs
from publishing.models import Kind, PublishTarget, Status, Trigger

from .builders import catalog, plugin_entry, run_command, skill_md

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(make_repo, synced_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit", version="2.0.0"), plugin_entry("docs-kit"),
                                                   name="acme-skills"),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Blameless reviews."),
        "plugins/docs-kit/skills/notes/SKILL.md": skill_md("notes", "Meeting notes."),
    })
    return synced_marketplace(repo, slug="acme", requires_approval=False)


@pytest.fixture
def zip_target(market):
    target = PublishTarget.objects.create(name="upload", kind=Kind.ZIP, marketplace_name="acme-org")
    target.marketplaces.set([market])
    return target


def zip_files(target, run) -> dict[str, bytes]:
    path = runs.zip_path(target, "").parent / run.artifact
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_zip_run_builds_the_export_and_records_it(zip_target, tmp_path, people):
    run = runs.publish(zip_target, Trigger.MANUAL, actor=people["admin"])
    assert run.status == Status.PUBLISHED, run.error
    assert (run.plugins, run.skills) == (2, 2)
    assert [c["plugin"] for c in run.changes["added"]] == ["docs-kit", "ops-kit"]
    code, _out = run_command("export_marketplace", str(tmp_path / "out"), "--target", zip_target.name)
    exported = {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
                for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert code == 0 and zip_files(zip_target, run) == exported
    event = AuditEvent.objects.get(action=Action.PUBLISHED)
    assert event.actor == people["admin"] and event.extra["run"] == str(run.uid)
    assert event.extra["changes"]["added"][0]["plugin"] == "docs-kit"


def test_nothing_new_is_unchanged_and_a_change_is_listed(zip_target, market):
    first = runs.publish(zip_target)
    docs_kit = PublishTarget.objects.get(pk=zip_target.pk).published["docs-kit"]["version"]
    again = runs.publish(zip_target)
    assert again.status == Status.UNCHANGED and again.artifact == first.artifact
    assert AuditEvent.objects.filter(action=Action.PUBLISHED).count() == 1  # nothing happened the second time
    Plugin.objects.filter(name="docs-kit").update(policy=Policy.PROHIBITED)
    market.repo.commit({"plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Kinder reviews.")})
    sync_marketplace(market.pk)
    changed = runs.publish(zip_target)
    assert changed.status == Status.PUBLISHED and changed.artifact != first.artifact
    assert changed.changes["removed"] == [{"plugin": "docs-kit", "version": docs_kit}]
    assert [u["plugin"] for u in changed.changes["updated"]] == ["ops-kit"]
    assert "Kinder" in zip_files(zip_target, changed)["plugins/ops-kit/skills/postmortem/SKILL.md"].decode()


def test_approvals_behind_the_content_are_recorded(zip_target, market, people, rf):
    market.requires_approval = True
    market.save()
    market.repo.commit({"plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Reviewed wording.")})
    sync_marketplace(market.pk)
    request = rf.post("/")
    request.user = people["core"]
    request.user.is_superuser = True
    approval.approve(SkillRevision.objects.filter(status=SkillRevision.Status.PENDING), request)
    run = runs.publish(zip_target)
    found = {a["skill"]: a for a in run.approvals}
    assert found["acme/ops-kit/postmortem"]["approved_by"] == "tam"
    # Content approved before the policy (or the audit log) existed is listed, without an approver.
    assert found["acme/docs-kit/notes"]["approved_by"] == "" and found["acme/docs-kit/notes"]["approved_at"] is None
    message = runs.commit_message(zip_target, run)
    assert "acme/ops-kit/postmortem" in message and "approved by tam" in message and str(run.uid) in message


def test_a_zip_over_claude_ais_plugin_limit_fails_and_keeps_the_last_one(make_repo, synced_marketplace, zip_target):
    first = runs.publish(zip_target)
    names = [f"kit-{i:03}" for i in range(101)]
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(*(plugin_entry(n) for n in names), name="big"),
        **{f"plugins/{n}/commands/run.md": f"Run {n}.\n" for n in names},
    })
    zip_target.marketplaces.add(synced_marketplace(repo, slug="big"))
    published = dict(zip_target.published)
    run = runs.publish(zip_target)
    assert run.status == Status.FAILED and "103 plugins" in run.error and "100" in run.error
    zip_target.refresh_from_db()
    assert zip_target.published == published  # what was published stays the record
    assert zip_files(zip_target, first)  # and the last good ZIP is still there
    assert AuditEvent.objects.get(action=Action.PUBLISH_FAILED).extra["error"] == run.error


def test_a_turned_off_target_publishes_nothing(zip_target):
    zip_target.enabled = False
    zip_target.save()
    run = runs.publish(zip_target)
    assert run.status == Status.FAILED and "turned off" in run.error and not run.artifact


def test_publish_command_prints_the_run_as_json(zip_target):
    code, out = run_command("publish", zip_target.name, "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "published" and result["target"] == "upload"
    assert result["counts"] == {"plugins": 2, "skills": 2, "bytes": result["counts"]["bytes"]}
    assert result["trigger"] == "cli"


def test_a_run_writes_its_progress_as_each_phase_starts_and_ends_not_per_plugin(make_repo, synced_marketplace):
    """The admin page polls a run's progress once a second: a write per plugin cost a publish of 500 a fifth of
    its time. Each phase's start and end are written, and the page still reads the last of them."""
    names = [f"kit-{i:02d}" for i in range(40)]
    market = synced_marketplace(make_repo({
        ".claude-plugin/marketplace.json": catalog(*(plugin_entry(name) for name in names), name="acme-skills"),
        **{f"plugins/{name}/skills/s/SKILL.md": skill_md("s") for name in names},
    }), slug="acme", requires_approval=False)
    target = PublishTarget.objects.create(name="upload", kind=Kind.ZIP, marketplace_name="acme-org")
    target.marketplaces.set([market])
    seen = []
    with CaptureQueriesContext(connection) as queries:
        run = runs.publish(target, progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert run.status == Status.PUBLISHED and run.plugins == 40
    assert seen[:2] == [("plugins", 0, 40), ("plugins", 1, 40)] and ("plugins", 40, 40) in seen  # told each step
    written = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "publishing_publishrun" SET "progress"')]
    assert 2 <= len(written) < 10

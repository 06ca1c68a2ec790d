"""Publishing to a Claude API workspace (publishing/runs.py with workspaces.py) against the fake Skills API."""
import pytest

from audit.models import Action, AuditEvent
from marketplace.models import Policy, Skill
from marketplace.sync import sync_marketplace
from publishing import runs
from publishing.models import Kind, PublishTarget, Status

from .builders import catalog, plugin_entry, skill_md
from .fakeskillsapi import FakeSkillsAPI

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(settings):
    settings.SKILLPORT_FETCH_ALLOWED_HOSTS = ["127.0.0.1"]
    with FakeSkillsAPI() as fake:
        yield fake


@pytest.fixture
def target(api, make_repo, synced_marketplace):
    repo = make_repo({
        ".claude-plugin/marketplace.json": catalog(plugin_entry("ops-kit", version="1.0.0"), name="acme-skills"),
        "plugins/ops-kit/skills/postmortem/SKILL.md": skill_md("postmortem", "Write a blameless incident review."),
        "plugins/ops-kit/skills/postmortem/timeline.py": "print('timeline')\n",
        "plugins/ops-kit/skills/notes/SKILL.md": skill_md("notes", "Meeting notes with decisions."),
        # Claude Code reads `model`; the Skills API refuses keys outside the Agent Skills specification.
        "plugins/ops-kit/skills/coder/SKILL.md": skill_md("coder", "Writes code.", model="opus"),
    })
    market = synced_marketplace(repo, slug="acme")
    found = PublishTarget.objects.create(name="workspace", kind=Kind.WORKSPACE, marketplace_name="acme-org",
                                         api_url=api.base_url, api_key=api.api_key)
    found.marketplaces.set([market])
    found.market = market
    return found


def test_each_published_skill_becomes_a_workspace_skill_with_versions(api, target):
    run = runs.publish(target)
    assert run.status == Status.PUBLISHED, run.error
    assert api.by_name("postmortem").latest.files["timeline.py"] == b"print('timeline')\n"
    assert {s.name for s in api.skills.values()} == {"postmortem", "notes"}
    # The skill Claude.ai would refuse is named on the run, and the others went through.
    assert [p["location"] for p in run.problems if p["code"] == "workspace-refused"] == ["acme/ops-kit/coder"]
    target.refresh_from_db()
    recorded = target.workspace_state["acme/ops-kit/postmortem"]
    assert recorded["skill_id"] == api.by_name("postmortem").id

    writes = len(api.writes())
    again = runs.publish(target)
    assert again.status == Status.UNCHANGED and len(api.writes()) == writes  # nothing new: nothing written

    target.market.repo.commit({"plugins/ops-kit/skills/notes/SKILL.md": skill_md("notes", "Notes, with owners.")})
    sync_marketplace(target.market.pk)
    changed = runs.publish(target)
    assert changed.status == Status.PUBLISHED and changed.changes["workspace"]["updated"] == ["acme/ops-kit/notes"]
    assert len(api.by_name("notes").versions) == 2 and len(api.by_name("postmortem").versions) == 1
    target.refresh_from_db()
    assert target.workspace_state["acme/ops-kit/notes"]["version"] == api.by_name("notes").latest.id
    assert AuditEvent.objects.filter(action=Action.PUBLISHED, extra__target="workspace").count() == 2


def test_a_prohibited_skill_is_not_pushed(api, target):
    Skill.objects.filter(name="notes").update(policy=Policy.PROHIBITED)
    runs.publish(target)
    assert {s.name for s in api.skills.values()} == {"postmortem"}


def test_a_skill_no_longer_published_leaves_the_workspace(api, target):
    """Prohibited since, kept from the target's audience, or removed: a git target's next copy drops it, and the
    workspace skill this target made goes too (a skill someone else uploaded there is never touched)."""
    assert runs.publish(target).status == Status.PUBLISHED
    assert {s.name for s in api.skills.values()} == {"postmortem", "notes"}
    Skill.objects.filter(name="notes").update(policy=Policy.PROHIBITED)
    Skill.objects.filter(name="postmortem").update(audience=["github:@acme/core"])
    again = runs.publish(target)
    assert again.status == Status.PUBLISHED and {s.name for s in api.skills.values()} == set()
    assert sorted(again.changes["workspace"]["deleted"]) == ["acme/ops-kit/notes", "acme/ops-kit/postmortem"]
    target.refresh_from_db()
    assert target.workspace_state == {}
    assert AuditEvent.objects.filter(action=Action.PUBLISHED, extra__target="workspace").count() == 2


def test_a_skill_the_workspace_would_not_let_go_fails_the_run(api, target):
    runs.publish(target)
    Skill.objects.filter(name="notes").update(policy=Policy.PROHIBITED)
    api.fail(409, method="DELETE")  # not one to try again
    run = runs.publish(target)
    assert run.status == Status.FAILED and run.error.startswith("Not deleted from the workspace: acme/ops-kit/notes (")
    assert AuditEvent.objects.filter(action=Action.PUBLISH_FAILED).exists()
    assert runs.publish(target).status == Status.PUBLISHED  # asked again, it goes
    assert {s.name for s in api.skills.values()} == {"postmortem"}


def test_a_wrong_key_fails_the_run_without_naming_the_key(api, target):
    target.api_key = "sk-ant-wrong-" + "x" * 20
    target.save()
    run = runs.publish(target)
    assert run.status == Status.FAILED and run.error and target.api_key not in run.error
    event = AuditEvent.objects.get(action=Action.PUBLISH_FAILED)
    assert target.api_key not in str(event.extra)

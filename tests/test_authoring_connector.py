"""Proposing from Claude, end to end: the official MCP client calls propose_skill, the fake GitHub merges the pull
request and delivers its signed webhooks to the running site, the worker syncs the merge, and the new skill waits in
the approval queue."""
import pytest

from audit.models import Action, AuditEvent, Surface
from authoring.models import Proposal
from marketplace.models import Skill, SkillRevision

from .builders import skill_md, wait_for_run
from .mcp_client import call
from .test_authoring import hosted  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

FILES = [{"path": "SKILL.md", "text": skill_md("gamma", "Gamma drafts release notes.")},
         {"path": "scripts/notes.py", "text": "print('notes')\n", "executable": True}]


def test_propose_from_claude_merge_sync_and_approval(hosted, people, skillport, celery_worker_queue):
    market = hosted.market
    market.requires_approval = True
    market.save(update_fields=["requires_approval"])
    hosted.gh.add_hook("acme/skills", f"{skillport.url}/webhooks/github/acme", "hook-secret")

    answer = call(people["core"], "propose_skill", {
        "marketplace": "acme", "plugin": "tools", "skill": "gamma", "files": FILES,
        "message": "Release notes from the changelog."})
    assert not answer.is_error, answer.content[0].text
    result = answer.structured_content
    proposal = Proposal.objects.get()
    assert result["pull_request"] == f"{hosted.gh.base_url}/acme/skills/pull/1" == proposal.url
    assert result["proposal_page"] == f"https://skillport.example/proposals/{proposal.id}/"
    assert (result["skill"], result["change"], result["state"]) == ("acme/tools/gamma", "add", "open")
    assert "merge" in result["next_steps"] and "an admin approves it" in result["next_steps"]
    script = hosted.repo.git("ls-tree", hosted.repo.pulls[1].head_sha, "plugins/tools/skills/gamma/scripts/notes.py")
    assert script.startswith("100755 ")  # as the tool call asked
    opened = AuditEvent.objects.get(action=Action.PROPOSAL_OPENED)
    assert opened.surface == Surface.MCP and opened.client_name == ""  # the test client is no Claude surface

    hosted.gh.merge_pull("acme/skills", 1)
    assert [(event, status) for event, _url, status in hosted.gh.deliveries] == [("pull_request", 200), ("push", 202)]
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.MERGED
    assert AuditEvent.objects.filter(action=Action.PROPOSAL_MERGED, skill="gamma").count() == 1

    run = wait_for_run(market, "webhook")
    assert run.status == "ok", (run.error, run.problems)
    gamma = Skill.objects.get(marketplace=market, slug="gamma")
    assert not gamma.released  # new skills wait for an admin here
    assert SkillRevision.objects.filter(skill=gamma, status=SkillRevision.Status.PENDING).exists()
    assert not Skill.objects.visible_to(people["core"]).filter(pk=gamma.pk).exists()

    mine = call(people["core"], "my_proposals").structured_content
    assert [(p["skill"], p["state"]) for p in mine["proposals"]] == [("acme/tools/gamma", "merged")]
    assert "approval" in mine["proposals"][0]["next_steps"]


def test_refusals_and_problems_are_tool_errors_in_our_words(hosted, people):
    refused = call(people["member"], "propose_skill", {
        "marketplace": "acme", "plugin": "tools", "skill": "gamma", "files": FILES, "message": "Please."})
    assert refused.is_error and "not among the contributors of the marketplace 'acme'" in refused.content[0].text
    unknown = call(people["core"], "propose_removal", {"marketplace": "nope", "plugin": "tools", "skill": "beta",
                                                      "message": "Old."})
    assert unknown.is_error and "No marketplace 'nope' that you can see. Yours: acme." in unknown.content[0].text
    bad = call(people["core"], "propose_skill", {
        "marketplace": "acme", "plugin": "tools", "skill": "gamma", "message": "Traversal.",
        "files": [{"path": "../../etc/passwd", "text": "x"}, FILES[0]]})
    assert bad.is_error and "Nothing was sent: the change would not sync cleanly." in bad.content[0].text
    assert "'../../etc/passwd' is not a relative path" in bad.content[0].text
    wrong = call(people["core"], "propose_skill", {"marketplace": "acme", "plugin": "tools", "skill": "gamma"})
    assert wrong.is_error and "Wrong arguments for propose_skill: files is missing" in wrong.content[0].text
    assert hosted.gh.pushes == [] and not Proposal.objects.exists()
    assert call(people["core"], "my_proposals").structured_content == {
        "proposals": [], "page": "https://skillport.example/proposals/",
        "hint": "You have proposed nothing yet: propose_skill sends a skill for review."}


def test_a_client_proposing_without_end_is_told_to_wait(hosted, people, settings):
    """Claude in a loop, say: checks and proposals are limited per person on every surface."""
    settings.SKILLPORT_PROPOSAL_RATE = "1/hour"
    arguments = {"marketplace": "acme", "plugin": "tools", "skill": "gamma", "message": "Bad.",
                 "files": [{"path": "SKILL.md", "text": "---\nname: Bad Name\n---\n"}]}
    first = call(people["core"], "propose_skill", arguments)
    assert first.is_error and "would not sync cleanly" in first.content[0].text
    second = call(people["core"], "propose_skill", arguments)
    assert second.is_error and (
        "Skillport takes at most 1/hour checks and proposals from one person; try again in ") in second.content[0].text
    assert hosted.gh.pushes == [] and not Proposal.objects.exists()

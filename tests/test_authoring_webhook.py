"""The marketplace's webhook follows the pull requests Skillport opened: merged, closed, reopened (signed like pushes)."""
import pytest

from audit.models import Action, AuditEvent, Surface
from authoring import following
from authoring.models import Proposal
from marketplace.models import WebhookDelivery

from .test_authoring import hosted, propose  # noqa: F401  (fixture)
from .test_webhooks import deliver


def event(hosted, number, action, sender="maintainer"):
    repo = hosted.repo
    return {"action": action, "number": number, "pull_request": hosted.gh._pull_json(repo, repo.pulls[number]),
            "repository": hosted.gh._repo_json(repo), "sender": {"login": sender, "id": 1}}


def test_merged_closed_and_reopened_pull_requests_move_the_proposal(client, hosted, people):
    merged = propose(people["core"], hosted.market)
    closed = propose(people["core"], hosted.market, skill="delta",
                     files={"SKILL.md": b"---\nname: delta\ndescription: Delta.\n---\nBody\n"})
    hosted.gh.merge_pull("acme/skills", merged.number)
    answer = deliver(client, "acme", event(hosted, merged.number, "closed"), event="pull_request",
                     secret="hook-secret")
    assert answer.status_code == 200 and answer.json()["result"] == "followed", answer.json()
    merged.refresh_from_db()
    assert merged.state == Proposal.State.MERGED
    again = deliver(client, "acme", event(hosted, merged.number, "closed"), event="pull_request",
                    secret="hook-secret", delivery="d-2")
    assert again.status_code == 200
    recorded = AuditEvent.objects.get(action=Action.PROPOSAL_MERGED)  # once, however often GitHub delivers
    assert (recorded.surface, recorded.skill, recorded.extra["by"]) == (Surface.WEBHOOK, "gamma", "maintainer")
    assert recorded.extra["proposal"] == str(merged.id) and recorded.extra["proposer"] == "tam"

    hosted.repo.pulls[closed.number].state = "closed"
    deliver(client, "acme", event(hosted, closed.number, "closed"), event="pull_request", secret="hook-secret")
    closed.refresh_from_db()
    assert closed.state == Proposal.State.CLOSED
    assert AuditEvent.objects.filter(action=Action.PROPOSAL_CLOSED, skill="delta").count() == 1
    hosted.repo.pulls[closed.number].state = "open"
    deliver(client, "acme", event(hosted, closed.number, "reopened"), event="pull_request", secret="hook-secret")
    closed.refresh_from_db()
    assert closed.state == Proposal.State.OPEN


def test_other_pull_requests_and_bad_bodies_are_answered_without_change(client, hosted, people):
    proposal = propose(people["core"], hosted.market)
    payload = event(hosted, proposal.number, "closed")
    payload["pull_request"]["head"]["ref"] = "someone-elses-branch"
    answer = deliver(client, "acme", payload, event="pull_request", secret="hook-secret")
    assert answer.status_code == 200 and answer.json()["result"] == "ignored"
    answer = deliver(client, "acme", {"action": "closed"}, event="pull_request", secret="hook-secret", delivery="d-3")
    assert answer.status_code == 400 and answer.json()["result"] == "bad_request"
    answer = deliver(client, "acme", event(hosted, proposal.number, "edited"), event="pull_request",
                     secret="hook-secret", delivery="d-4")
    assert answer.json()["result"] == "ignored"
    odd = deliver(client, "acme", event(hosted, proposal.number, ["closed"]), event="pull_request",
                  secret="hook-secret", delivery="d-5")  # whatever a body holds, never a 500
    assert odd.status_code == 200 and odd.json()["result"] == "ignored"
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.OPEN


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64])
def test_a_pull_request_event_with_a_bad_signature_is_refused(client, hosted, people, signature):
    proposal = propose(people["core"], hosted.market)
    hosted.gh.merge_pull("acme/skills", proposal.number)
    answer = deliver(client, "acme", event(hosted, proposal.number, "closed"), event="pull_request",
                     secret="hook-secret", signature=signature)
    assert answer.status_code == 403
    proposal.refresh_from_db()
    assert proposal.state == Proposal.State.OPEN
    assert not AuditEvent.objects.filter(action=Action.PROPOSAL_MERGED).exists()
    assert AuditEvent.objects.filter(action=Action.WEBHOOK_BAD_SIGNATURE).count() == 1
    assert WebhookDelivery.objects.get().result == "bad_signature"


def test_without_a_webhook_the_schedule_asks_github_about_open_proposals(hosted, people):
    merged = propose(people["core"], hosted.market)
    closed = propose(people["core"], hosted.market, skill="delta",
                     files={"SKILL.md": b"---\nname: delta\ndescription: Delta.\n---\nBody\n"})
    still_open = propose(people["core"], hosted.market, skill="epsilon",
                         files={"SKILL.md": b"---\nname: epsilon\ndescription: Epsilon.\n---\nBody\n"})
    assert not hosted.gh.hooks  # nothing tells Skillport
    hosted.gh.add_user("mia")
    hosted.gh.merge_pull("acme/skills", merged.number, by="mia")
    hosted.repo.pulls[closed.number].state = "closed"

    assert following.follow_open_proposals() == 2
    assert {p.skill: p.state for p in Proposal.objects.all()} == {
        "gamma": Proposal.State.MERGED, "delta": Proposal.State.CLOSED, "epsilon": Proposal.State.OPEN}
    recorded = AuditEvent.objects.get(action=Action.PROPOSAL_MERGED)
    assert (recorded.surface, recorded.skill, recorded.extra["by"]) == (Surface.SCHEDULE, "gamma", "mia")
    assert AuditEvent.objects.filter(action=Action.PROPOSAL_CLOSED, skill="delta").count() == 1
    assert following.follow_open_proposals() == 0  # asked again: nothing new, nothing recorded twice
    assert AuditEvent.objects.filter(action__in=[Action.PROPOSAL_MERGED, Action.PROPOSAL_CLOSED]).count() == 2

    # GitHub refusing to answer (a revoked token) leaves the proposal as it was, and the others asked.
    hosted.gh.revoke_all()
    hosted.repo.pulls[still_open.number].state = "closed"
    assert following.follow_open_proposals() == 0
    still_open.refresh_from_db()
    assert still_open.state == Proposal.State.OPEN


def test_an_answer_not_in_github_s_shape_is_read_as_far_as_it_goes(hosted, people):
    proposal = propose(people["core"], hosted.market)
    hosted.gh.merge_pull("acme/skills", proposal.number)
    hosted.repo.pulls[proposal.number].merged_by = "someone"  # a string where GitHub gives an object
    assert following.follow_open_proposals() == 1
    assert AuditEvent.objects.get(action=Action.PROPOSAL_MERGED).extra["by"] == ""
    hosted.repo.pulls[proposal.number].state = "merging"  # no state a pull request has
    Proposal.objects.update(state=Proposal.State.OPEN)
    assert following.follow_open_proposals() == 0

"""Following the pull requests Skillport opened, so each proposer sees what became of theirs.

The marketplace's webhook tells a new state as it happens (`pull_request` events); where no webhook
is set up, or a delivery was lost, a beat task (authoring.tasks) asks GitHub about the proposals
still open, every SKILLPORT_PROPOSAL_CHECK_SECONDS.
"""
import logging

from django.dispatch import receiver

from audit import record
from audit.models import Action, Surface
from marketplace import pulls
from marketplace.webhooks import pull_request_changed

from .models import Proposal

log = logging.getLogger(__name__)

ACTIONS = {Proposal.State.MERGED: Action.PROPOSAL_MERGED, Proposal.State.CLOSED: Action.PROPOSAL_CLOSED}


def move(proposal, state, *, by, surface) -> None:
    """Move `proposal` to `state`; the merge and the closing are audit events, recorded once however
    often the news arrives, by webhook or by asking (the update claims the change)."""
    claimed = Proposal.objects.filter(pk=proposal.pk).exclude(state=state).update(state=state)
    if claimed and state in ACTIONS:
        record(ACTIONS[state], target=proposal.marketplace, surface=surface, plugin=proposal.plugin,
               skill=proposal.skill, commit=proposal.commit,
               extra={"proposal": str(proposal.id), "pull_request": proposal.url, "by": by,
                      "proposer": proposal.proposer.get_username()})


@receiver(pull_request_changed)
def follow(sender, *, marketplace, number, branch, state, by, **kwargs) -> bool:
    """A webhook's pull_request event: True when the pull request is a proposal's."""
    proposal = Proposal.objects.filter(marketplace=marketplace, number=number, branch=branch).first()
    if proposal is None:
        return False
    move(proposal, state, by=by, surface=Surface.WEBHOOK)
    return True


def follow_open_proposals() -> int:
    """Ask GitHub about every open proposal's pull request, with its marketplace's token; how many
    changed. One that GitHub does not answer about stays as it was, until the next time."""
    changed = 0
    open_pulls = (Proposal.objects.filter(state=Proposal.State.OPEN, number__isnull=False)
                  .select_related("marketplace", "proposer").order_by("created"))
    for proposal in open_pulls:
        repository, token = pulls.repository(proposal.marketplace.git_url), proposal.marketplace.access_token
        if repository is None or not token:
            continue
        try:
            pull = pulls.Client(repository, token).get(proposal.number)
        except pulls.PullRequestError as exc:
            log.warning("proposal %s: pull request #%s not read: %s", proposal.id, proposal.number, exc)
            continue
        state = _state(pull)
        if state is not None and state != proposal.state:
            merged_by = pull.get("merged_by") if state == Proposal.State.MERGED else None
            by = str(merged_by.get("login") or "") if isinstance(merged_by, dict) else ""
            move(proposal, state, by=by[:100], surface=Surface.SCHEDULE)
            changed += 1
    return changed


def _state(pull) -> str | None:
    """A pull request's state in a proposal's words, or None for an answer that is not one."""
    if not isinstance(pull, dict) or pull.get("state") not in ("open", "closed"):
        return None
    if pull.get("merged") is True:
        return Proposal.State.MERGED
    return Proposal.State.CLOSED if pull["state"] == "closed" else Proposal.State.OPEN

"""Following the pull requests Skillport opened: the marketplace's webhook tells their new state."""
from django.dispatch import receiver

from audit import record
from audit.models import Action, Surface
from marketplace.webhooks import pull_request_changed

from .models import Proposal

ACTIONS = {Proposal.State.MERGED: Action.PROPOSAL_MERGED, Proposal.State.CLOSED: Action.PROPOSAL_CLOSED}


@receiver(pull_request_changed)
def follow(sender, *, marketplace, number, branch, state, by, **kwargs) -> bool:
    """Move the proposal of this pull request to `state`; the merge and the closing are audit events,
    recorded once however often GitHub delivers them (the update claims the change)."""
    proposals = Proposal.objects.filter(marketplace=marketplace, number=number, branch=branch)
    proposal = proposals.first()
    if proposal is None:
        return False
    if proposals.exclude(state=state).update(state=state) and state in ACTIONS:
        record(ACTIONS[state], target=marketplace, surface=Surface.WEBHOOK, plugin=proposal.plugin,
               skill=proposal.skill, commit=proposal.commit,
               extra={"proposal": str(proposal.id), "pull_request": proposal.url, "by": by,
                      "proposer": proposal.proposer.get_username()})
    return True

"""A person's proposals in the browser: one proposal's page and the list of their own."""
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from .models import Proposal

# Who may read every proposal: the people who review the marketplace's changes in the admin.
REVIEWER_PERMISSION = "marketplace.change_marketplace"


def may_read(user, proposal) -> bool:
    """The proposer, and the staff who look after marketplaces."""
    return proposal.proposer_id == user.pk or (user.is_staff and user.has_perm(REVIEWER_PERMISSION))


@login_required
def proposal(request, pk):
    found = get_object_or_404(Proposal.objects.select_related("marketplace", "proposer"), pk=pk)
    if not may_read(request.user, found):
        raise Http404  # as if it did not exist: someone else's proposal is not theirs to know of
    return render(request, "authoring/proposal.html", {"proposal": found})


@login_required
def mine(request):
    proposals = Proposal.objects.filter(proposer=request.user).select_related("marketplace")
    return render(request, "authoring/mine.html", {"proposals": proposals})

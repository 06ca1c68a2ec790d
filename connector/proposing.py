"""The connector's proposal tools (propose_skill, propose_removal, my_proposals) as plain functions of a caller.

They need no scope beyond skills:read: what they do is a pull request the marketplace's owners review,
and authoring.proposals decides who may open one (the marketplace's contributors, access.json editors).
"""
from typing import Annotated

from pydantic import BaseModel, Field

from audit.models import client_surface
from authoring import proposals
from authoring.models import Proposal
from marketplace.models import Marketplace
from skillport_site.links import absolute_url

from .tools import ToolProblem

MY_PROPOSALS = 20  # the newest; the My proposals page lists them all


class ProposedFile(BaseModel):
    path: str = Field(description="Relative to the skill's folder: SKILL.md, scripts/run.py, references/api.md.")
    text: str = Field(description="The file's whole content, as UTF-8 text.")
    executable: bool = Field(False, description="True for a script meant to be run directly (chmod +x).")


Files = Annotated[list[ProposedFile], Field(description=(
    "The skill's files, each a path in its folder and its text. For a new skill, every file, SKILL.md first "
    "(its frontmatter name must be the skill's name). For an existing skill, only the files to add or "
    "replace; the rest stay."))]
MarketplaceSlug = Annotated[str, Field(description="The marketplace's slug: the first part of a full skill name.")]
PluginName = Annotated[str, Field(description=(
    "The plugin to hold the skill: the second part of a full name. A new name makes a new plugin."))]
SkillName = Annotated[str, Field(description="The skill's name: lowercase letters, digits and hyphens (pdf-tables).")]
Message = Annotated[str, Field(description="Why: what the skill does or what the change fixes, for the reviewers.")]


class ProposalAnswer(BaseModel):
    skill: str = Field(description="marketplace/plugin/skill")
    change: str = Field(description="add, update or remove")
    state: str = Field(description="open, merged or closed")
    pull_request: str = Field("", description="The pull request to review; absent off GitHub (see instructions).")
    proposal_page: str = Field(description="The proposal's page on Skillport, which follows its state.")
    branch: str = ""
    instructions: str = Field("", description="Off GitHub: how to open the merge request.")
    next_steps: str = ""


class ProposalList(BaseModel):
    proposals: list[ProposalAnswer]
    page: str = Field(description="Every proposal of yours, on Skillport.")
    hint: str = ""


def propose_skill(caller, marketplace, plugin, skill, files, message, deleted=None) -> ProposalAnswer:
    market = _marketplace(caller, marketplace)
    contents = {f.path: f.text.encode("utf-8") for f in files}
    if len(contents) != len(files):
        raise ToolProblem("Two files have the same path; give each file once.")
    try:
        proposal = proposals.propose(caller.user, market, plugin=plugin, skill=skill, files=contents,
                                     deleted=tuple(deleted or ()), executable={f.path for f in files if f.executable},
                                     message=message,
                                     surface=client_surface(caller.client))
    except (proposals.Refused, proposals.Invalid) as error:
        raise ToolProblem(_refusal(error)) from None
    return _answer(proposal, fresh=True)


def propose_removal(caller, marketplace, plugin, skill, message) -> ProposalAnswer:
    market = _marketplace(caller, marketplace)
    try:
        proposal = proposals.propose_removal(caller.user, market, plugin=plugin, skill=skill, message=message,
                                             surface=client_surface(caller.client))
    except (proposals.Refused, proposals.Invalid) as error:
        raise ToolProblem(_refusal(error)) from None
    return _answer(proposal, fresh=True)


def my_proposals(caller) -> ProposalList:
    mine = Proposal.objects.filter(proposer=caller.user).select_related("marketplace")[:MY_PROPOSALS]
    answers = [_answer(p) for p in mine]
    return ProposalList(proposals=answers, page=absolute_url("/proposals/"),
                        hint="" if answers else "You have proposed nothing yet: propose_skill sends a skill for review.")


def _marketplace(caller, slug) -> Marketplace:
    found = Marketplace.objects.visible_to(caller.user).filter(slug=slug).first()
    if found is None:
        names = ", ".join(Marketplace.objects.visible_to(caller.user).values_list("slug", flat=True)[:20])
        raise ToolProblem(f"No marketplace '{slug[:100]}' that you can see. Yours: {names or 'none'}.")
    return found


def _refusal(error) -> str:
    if isinstance(error, proposals.Invalid):
        listed = "\n".join(f"- {problem}" for problem in error.problems)
        return f"Nothing was sent: the change would not sync cleanly. Fix these and propose again:\n{listed}"
    return str(error)


def _answer(proposal, fresh=False) -> ProposalAnswer:
    market = proposal.marketplace
    if proposal.state == Proposal.State.OPEN:
        approval = ", an admin approves it" if market.requires_approval else ""
        review = "Open the merge request as the instructions say; then its" if proposal.instructions else "Its"
        steps = (f"{review} reviewers decide. Once they merge it, Skillport syncs the marketplace{approval}, and the "
                 "skill reaches everyone the marketplace is shared with. my_proposals follows its state.")
    elif proposal.state == Proposal.State.MERGED:
        steps = "Merged: the marketplace's next sync picks it up" + (
            ", then it waits for an admin's approval." if market.requires_approval else ".")
    else:
        steps = "Closed without merging."
    return ProposalAnswer(
        skill=f"{market.slug}/{proposal.plugin}/{proposal.skill}", change=proposal.kind, state=proposal.state,
        pull_request=proposal.url if proposal.number else "", proposal_page=absolute_url(proposal.get_absolute_url()),
        branch=proposal.branch if fresh or proposal.instructions else "", instructions=proposal.instructions,
        next_steps=steps,
    )

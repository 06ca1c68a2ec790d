"""Proposing a change to a marketplace's skills: who may, checking it as a sync would, and sending it
as one commit on a new branch and a pull request (or, off GitHub, a pushed branch and instructions).

Every change goes through the marketplace's owners: Skillport never pushes to the tracked branch.
The push that follows a merge syncs the marketplace as any push does, so the approval policy and
the security scan's gate apply as they always do.
"""
import logging
import uuid
from contextlib import contextmanager

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from audit import record
from audit.models import Action, Outcome
from marketplace import access, gitrepo, pulls, scanners, scans, weblinks
from marketplace.gitrepo import GitError
from marketplace.models import Marketplace, Plugin, Skill
from skillport_site.links import absolute_url
from skillport_site.throttle import member_limit

from .changes import Change, Unusable
from .models import Proposal

log = logging.getLogger(__name__)

NOT_A_CONTRIBUTOR = (
    "You are not among the contributors of the marketplace '{slug}', so you cannot propose changes to it. "
    "Ask its admins to add you (or a team of yours) to its contributors."
)
HIDDEN = ("You cannot propose changes to {name}: the repository holds something there that Skillport does not serve "
          "you (kept from you, or not synced yet).")
VERBS = {Proposal.Kind.ADD: "Add", Proposal.Kind.UPDATE: "Update", Proposal.Kind.REMOVE: "Remove"}


class Refused(Exception):
    """This person may not propose here; str(e) is the sentence to show them."""


class TooMany(Refused):
    """This person has checked or proposed as often as Skillport takes (`limited`): ask again after `retry_after` s."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Invalid(Exception):
    """The proposal would not sync cleanly; `problems` are sentences, each naming the file where it can."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def may_propose(user, marketplace: Marketplace) -> bool:
    """Contributors of a marketplace they may see, or editors in its .skillport/access.json."""
    if user is None or not user.is_authenticated:
        return False
    return Marketplace.objects.visible_to(user).filter(pk=marketplace.pk).exists() and contributes(user, marketplace)


def contributes(user, marketplace: Marketplace) -> bool:
    """`may_propose` for a marketplace known to be visible to `user` (one of `visible_to`'s, or a visible
    skill's), with no query: the pages that list or link to where one may propose ask this."""
    who = set(access.principals(user))
    contributors = {ref for ref in map(access.normalise, marketplace.contributors) if ref}
    return bool(who & (contributors | set(access.editors(marketplace.access_rules))))


def check(user, marketplace, *, plugin: str, skill: str, files: dict[str, bytes],
          deleted: tuple[str, ...] = (), executable=frozenset()) -> list[str]:
    """Problems the change would meet in a sync ([] if none). Raises Refused. `executable`: the paths
    among `files` to commit executable (a file executable in the repository stays so)."""
    with limited(user):
        return _checked(user, marketplace, plugin, skill, files, deleted, executable)[1]


def propose(user, marketplace, *, plugin: str, skill: str, files: dict[str, bytes],
            deleted: tuple[str, ...] = (), executable=frozenset(), message: str, surface) -> Proposal:
    """Send the change as one commit on a new branch and a pull request. Raises Refused or Invalid."""
    with limited(user):
        change, problems = _checked(user, marketplace, plugin, skill, files, deleted, executable, surface)
        if problems:
            raise Invalid(problems)
        return _send(user, change, message, surface)


def propose_removal(user, marketplace, *, plugin: str, skill: str, message: str, surface) -> Proposal:
    """Propose removing a skill's folder (only the folder: the plugin and its entry stay)."""
    with limited(user):
        _require(user, marketplace, surface)
        change = _build(marketplace, plugin, skill, {}, (), frozenset(), remove=True)
        _require_served(user, change)
        problems = change.problems()
        if problems:
            raise Invalid(problems)
        return _send(user, change, message, surface)


@contextmanager
def limited(user):
    """Each person's checks and proposals, on every surface, at SKILLPORT_PROPOSAL_RATE and one at a time
    (skillport_site.throttle.member_limit): each may run the security scan and reach the git host, and a
    client (Claude in a loop, say) could otherwise ask without end. Raises TooMany."""
    if user is None or not user.is_authenticated:  # refused as soon as it is asked (_require)
        yield
        return
    # The turn outlasts what one can take: a proposal's push may take SKILLPORT_GIT_TIMEOUT.
    with member_limit("proposal", "SKILLPORT_PROPOSAL_RATE", user.pk, settings.SKILLPORT_GIT_TIMEOUT) as wait:
        if wait is not None and wait.busy:
            raise TooMany("Skillport is still checking or sending your last change; wait for its answer, then "
                          "try again.", wait.seconds)
        if wait is not None:
            raise TooMany(f"Skillport takes at most {settings.SKILLPORT_PROPOSAL_RATE} checks and proposals from one "
                          f"person; try again in {wait.seconds} seconds.", wait.seconds)
        yield


def _require(user, marketplace, surface=None):
    """Refused unless `user` may propose here; a refused proposal (not a mere check) is an audit event."""
    if not may_propose(user, marketplace):
        if surface is not None:
            record(Action.ACCESS_DENIED, actor=user, target=marketplace, surface=surface, outcome=Outcome.DENIED,
                   extra={"reason": "not a contributor", "wanted": "proposal"})
        raise Refused(NOT_A_CONTRIBUTOR.format(slug=marketplace.slug))


def _build(marketplace, plugin, skill, files, deleted, executable, remove=False) -> Change:
    try:
        return Change.build(marketplace, plugin, skill, files, tuple(deleted), frozenset(executable), remove=remove)
    except Unusable as exc:
        raise Refused(str(exc)) from None


def _checked(user, marketplace, plugin, skill, files, deleted, executable, surface=None) -> tuple[Change, list[str]]:
    _require(user, marketplace, surface)
    change = _build(marketplace, plugin, skill, files, deleted, executable)
    _require_served(user, change)
    problems = change.problems()
    if not problems:
        problems = _scan(marketplace, change)
    return change, problems


def _require_served(user, change):
    """Refused unless the change builds on what `user` is served. It is made on the repository's head, which may
    hold a plugin or skill kept from them, or a skill's content members are not served (awaiting an admin,
    refused, blocked by the scan, or not synced yet): its problems, the files it can delete and the scan's
    findings would tell them what that holds, and a pull request would change it in their name."""
    marketplace, name = change.marketplace, f"{change.plugin}:{change.skill}"
    if change.existing_hash:
        skill = (Skill.objects.visible_to(user).filter(marketplace=marketplace, plugin__name=change.plugin,
                                                       path=change.folder)
                 .values_list("content_hash", flat=True).first())
        if skill is None:
            raise Refused(HIDDEN.format(name=name))
        if skill != change.existing_hash:
            raise Refused(f"The repository holds a change to {name} that members are not served yet (awaiting an "
                          "admin's approval, refused, blocked by the security scan, or not synced yet). Propose "
                          "yours once the marketplace's admins have settled it.")
    elif change.kind == Proposal.Kind.ADD and not change.new_plugin and not Plugin.objects.visible_to(user).filter(
            marketplace=marketplace, name=change.plugin).exists():
        raise Refused(HIDDEN.format(name=name))


def _scan(marketplace, change) -> list[str]:
    """What the marketplace's security scan would hold or block the skill for; nothing when its gate does
    not gate, or no scanner is configured."""
    if not scans.gated(marketplace):
        return []
    files = change.skill_files()
    found = []
    for scanner in scanners.available():
        try:
            result = scanners.scan(scanner, [("proposal", files)])["proposal"]
        except scanners.ScanError as exc:
            log.warning("scanning a proposal for %s failed: %s", marketplace.slug, exc)
            continue  # the sync's scan still judges it; a broken scanner must not stop every proposal
        if scanners.at_least(result.max_severity, marketplace.scan_threshold):
            gate = "blocks" if marketplace.scan_gate == "block" else "holds for an admin"
            found.append(
                f"The security scan ({scanner.name}) found {result.max_severity}-severity findings, and this "
                f"marketplace {gate} such skills: " + "; ".join(
                    f"{f.get('file') or 'the skill'}: {f.get('message') or f.get('rule')}" for f in result.findings[:5]
                ) + ".")
    return found


def _send(user, change: Change, message: str, surface) -> Proposal:
    """1. The one commit: Skillport as author, the person named and as a Co-authored-by trailer.
    2. Pushed to a new branch with the marketplace's credential (in a header, never in a URL).
    3. On GitHub, a pull request into the tracked branch; elsewhere, instructions to open one."""
    marketplace = change.marketplace
    proposal = Proposal(id=uuid.uuid4(), marketplace=marketplace, proposer=user, kind=change.kind,
                        plugin=change.plugin, skill=change.skill, message=message.strip())
    login, name, email = _identity(user)
    proposal.branch = f"skillport/{login}/{change.skill}-{proposal.id.hex[:8]}"
    link = absolute_url(proposal.get_absolute_url())
    title = f"{VERBS[change.kind]} skill {change.plugin}:{change.skill}"
    body = "\n\n".join(filter(None, [
        proposal.message,
        f"Proposed by {name} (@{login}) through Skillport: {link}",
        f"Co-authored-by: {name} <{email}>" if email else "",
    ]))
    proposal.commit = change.commit(f"{title}\n\n{body}\n", {})
    url, token = marketplace.git_url, marketplace.access_token or None
    try:
        change.repo.push(url, proposal.commit, f"refs/heads/{proposal.branch}", token=token)
    except GitError as exc:
        raise Refused(f"Skillport could not push the branch to the marketplace's repository ({exc}); ask its "
                      "admins to check its access token.") from None
    repository = pulls.repository(url)
    if repository is not None and token:
        try:
            opened = pulls.Client(repository, token).open(head=proposal.branch, base=change.branch, title=title,
                                                          body=body)
            proposal.url, proposal.number = opened["url"], opened["number"]
        except pulls.PullRequestError as exc:
            _by_hand(change, proposal, f"GitHub did not open the pull request ({exc}). ")
    else:
        _by_hand(change, proposal)
    proposal.save()
    record(Action.PROPOSAL_OPENED, actor=user, target=marketplace, surface=surface, plugin=change.plugin,
           skill=change.skill, commit=proposal.commit,
           extra={"proposal": str(proposal.id), "kind": change.kind, "branch": proposal.branch,
                  "pull_request": proposal.url if proposal.number else "", "new_plugin": change.new_plugin})
    return proposal


def _by_hand(change, proposal, why=""):
    """A pushed branch whose merge request Skillport could not open: the host's page that opens it, where the
    host is of a kind whose page is known (`url`), and how (`instructions`)."""
    proposal.url = weblinks.new_merge_request(change.marketplace.git_url, proposal.branch, change.branch)
    where = gitrepo.redact(change.marketplace.git_url)
    on = f"at {proposal.url}" if proposal.url else "on the repository's host"
    proposal.instructions = (f"{why}Skillport pushed the branch {proposal.branch} to {where}. Open a merge request "
                             f"(pull request) from {proposal.branch} into {change.branch} {on}, so the marketplace's "
                             "owners can review it.")


def _identity(user) -> tuple[str, str, str]:
    """(login, name, email) for the branch, the description and the Co-authored-by trailer: the person's
    GitHub identity (GitHub's noreply address, which links the commit to their account), else their
    local account."""
    try:
        github = user.github
    except ObjectDoesNotExist:
        github = None
    if github is None:
        name = user.get_full_name() or user.get_username()
        return _slug(user.get_username()), name, user.email
    account = SocialAccount.objects.filter(user=user, provider="github").first()
    name = ((account.extra_data or {}).get("name") if account else None) or github.login
    return _slug(github.login), name, f"{github.github_id}+{github.login}@users.noreply.github.com"


def _slug(login: str) -> str:
    """A login as a branch name component: git refuses some characters, and a person's name could be anything."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in login.lower()).strip("-")
    return cleaned[:40] or "someone"

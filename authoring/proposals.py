"""Proposing a change to a marketplace's skills: who may, checking it as a sync would, and sending it as a pull request."""
from marketplace import access
from marketplace.models import Marketplace

from .models import Proposal


class Refused(Exception):
    """This person may not propose here; str(e) is the sentence to show them."""


class Invalid(Exception):
    """The proposal would not sync cleanly; `problems` are sentences, each naming the file where it can."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def may_propose(user, marketplace: Marketplace) -> bool:
    """Contributors of a marketplace they may see, or editors in its .skillport/access.json."""
    if user is None or not user.is_authenticated:
        return False
    if not Marketplace.objects.visible_to(user).filter(pk=marketplace.pk).exists():
        return False
    who = set(access.principals(user))
    contributors = {ref for ref in map(access.normalise, marketplace.contributors) if ref}
    return bool(who & (contributors | set(access.editors(marketplace.access_rules))))


def check(user, marketplace, *, plugin: str, skill: str, files: dict[str, bytes],
          deleted: tuple[str, ...] = ()) -> list[str]:
    """Problems the change would meet in a sync ([] if none). Raises Refused."""
    raise NotImplementedError


def propose(user, marketplace, *, plugin: str, skill: str, files: dict[str, bytes],
            deleted: tuple[str, ...] = (), message: str, surface) -> Proposal:
    """Send the change as one commit on a new branch and a pull request. Raises Refused or Invalid."""
    raise NotImplementedError


def propose_removal(user, marketplace, *, plugin: str, skill: str, message: str, surface) -> Proposal:
    """Propose removing a skill's folder (only the folder: the plugin and its entry stay)."""
    raise NotImplementedError

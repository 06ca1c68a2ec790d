"""Whether the organisation's policy lets a skill be handed out: one refusal, audited alike on every surface."""
from audit import record
from audit.models import Action, Outcome

from .models import Policy


def refusal(skill, *, extra=None, **who) -> str | None:
    """Why `skill` may not be packaged or linked, after recording the denied access; None when it may.

    `who` is what `audit.record` needs to name the caller: `request`, or `actor`, `surface`, `client`.
    """
    policy, reason = skill.stance
    if policy != Policy.PROHIBITED:
        return None
    record(Action.ACCESS_DENIED, target=skill, outcome=Outcome.DENIED,
           extra={"reason": "prohibited by policy", **(extra or {})}, **who)
    return f"{skill.identifier} is prohibited by your organisation: {reason or 'no reason given'}."

"""Template filters for other apps' pages: the skill page's "Suggest an edit" link."""
from django import template

from .. import proposals

register = template.Library()


@register.filter
def may_propose_to(user, skill) -> bool:
    """Whether `user` may propose changes to `skill`, one they can see (so its marketplace is visible too)."""
    return user.is_authenticated and proposals.contributes(user, skill.marketplace)

"""Template filters for other apps' pages: the skill page's "Suggest an edit" and the plugin page's "Contribute" links."""
from django import template

from .. import proposals

register = template.Library()


@register.filter
def may_propose_to(user, item) -> bool:
    """Whether `user` may propose changes to `item`, a skill or plugin they can see (so its marketplace
    is visible to them too)."""
    return user.is_authenticated and proposals.contributes(user, item.marketplace)

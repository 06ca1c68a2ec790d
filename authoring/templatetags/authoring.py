"""Template filters for other apps' pages: the skill page's "Suggest an edit" and the plugin page's "Contribute" links."""
from django import template

from .. import changes, proposals

register = template.Library()


@register.filter
def may_propose_to(user, item) -> bool:
    """Whether `user` may propose changes to `item`, a skill or plugin they can see (so its marketplace
    is visible to them too), and its marketplace can take them."""
    return (user.is_authenticated and proposals.contributes(user, item.marketplace)
            and not changes.unreachable(item.marketplace))

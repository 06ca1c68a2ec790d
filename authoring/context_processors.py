"""What every page's header needs to know about proposing."""
from django.core.cache import cache

from .pages import proposable

# Only the header link can lag a change of contributors by this long: the pages check it themselves.
LINK_SECONDS = 60


def navigation(request):
    """`may_contribute`, for the "Contribute" links, evaluated only if a page shows one and cached per
    user for a minute: it reads every marketplace the user may see."""
    def may_contribute():
        user = request.user
        if not user.is_authenticated:
            return False
        key = f"authoring:may-contribute:{user.pk}"
        allowed = cache.get(key)
        if allowed is None:
            allowed = bool(proposable(user))
            cache.set(key, allowed, LINK_SECONDS)
        return allowed

    return {"may_contribute": may_contribute}

"""What every page's header needs to know about the audit log."""
from django.core.cache import cache

from .views import PERMISSION

# Only the header link can lag a permission change by this long: the review pages check it themselves.
LINK_SECONDS = 60


def navigation(request):
    """`may_review_audit`, for the header's "Audit log" link, evaluated only if a page shows it.

    Django asks the permission tables twice per request for this; the answer is cached per user
    for a minute instead, about a sixth of a cached search page's server time.
    """
    def may_review_audit():
        user = request.user
        if not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        key = f"audit:may-review:{user.pk}"
        allowed = cache.get(key)
        if allowed is None:
            allowed = user.has_perm(PERMISSION)
            cache.set(key, allowed, LINK_SECONDS)
        return allowed

    return {"may_review_audit": may_review_audit}

"""Full addresses for what leaves the site (API answers, connector results, install links): base URL + path."""
from django.conf import settings


def absolute_url(path: str) -> str:
    """`path` (a `reverse()` or `get_absolute_url()`) under SKILLPORT_BASE_URL, the address people reach us at.

    The request's own host is not used: behind a proxy it can be an internal name, and links handed
    to Claude must work from wherever Claude is.
    """
    return settings.SKILLPORT_BASE_URL + path

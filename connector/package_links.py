"""One-time links to a skill's .skill package (for the API and install_skill): refused when prohibited, audited."""
from django.urls import reverse

from audit import record
from audit.models import Action
from marketplace import policy
from skillport_site.links import absolute_url

from .models import InstallLink


class Refused(Exception):
    """The organisation prohibits the skill: no link is issued. The message says why, for the person asking."""


def issue(skill, user, *, surface, client=None, request=None, extra=None):
    """A one-time link to `skill`'s package for `user`, and its InstallLink; raises Refused when policy prohibits it.

    Both the refusal and the issued link are audited, naming the caller by `request` (the API) or by
    `surface` and `client` (the connector); `extra` goes into both events.
    """
    who = {"request": request, "actor": user, "surface": surface, "client": client}
    refused = policy.refusal(skill, extra=extra, **who)
    if refused:
        raise Refused(refused)
    link, token = InstallLink.issue(user, skill, surface=surface, client=client or ("", ""))
    record(Action.INSTALL_LINK_ISSUED, target=skill, extra={"expires_at": link.expires_at.isoformat(), **(extra or {})},
           **who)
    return absolute_url(reverse("connector:download", args=[token])), link

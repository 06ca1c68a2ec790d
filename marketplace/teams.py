"""Keep stored organisation and team memberships current between sign-ins.

Someone who leaves a team (or the organisation) must stop seeing what it was shown, without
waiting for them to sign in again. This runs hourly with the server's own read:org token.
"""
import logging

from django.conf import settings
from django.utils import timezone

from . import github
from .models import GitHubIdentity

log = logging.getLogger(__name__)


def refresh_identities() -> int:
    """Update every stored identity from GitHub; return how many changed."""
    token, orgs = settings.SKILLPORT_GITHUB_ORG_TOKEN, settings.SKILLPORT_GITHUB_ORGS
    if not token or not orgs:
        log.info("team refresh skipped: SKILLPORT_GITHUB_ORG_TOKEN or SKILLPORT_GITHUB_ORGS is not set")
        return 0
    # One org failing (GitHub down, token revoked) must not strip everyone's teams: fail whole.
    memberships = {org: github.org_memberships(token, org) for org in orgs}
    changed = 0
    now = timezone.now()
    for identity in GitHubIdentity.objects.all():
        login = identity.login.lower()
        member_of = sorted(org for org in orgs if login in memberships[org])
        teams = sorted(team for org in member_of for team in memberships[org][login])
        if (member_of, teams) != (sorted(identity.orgs), sorted(identity.teams)):
            changed += 1
        identity.orgs, identity.teams, identity.refreshed_at = member_of, teams, now
        identity.save(update_fields=["orgs", "teams", "refreshed_at"])
    return changed

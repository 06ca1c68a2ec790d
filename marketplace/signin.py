"""GitHub sign-in: the organisation gate, and the identity visibility rules are checked against."""
from allauth.account.auth_backends import AuthenticationBackend
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib.auth import backends
from django.shortcuts import render
from django.utils import timezone

from audit import record
from audit.models import Action, Outcome

from . import github, rows
from .models import GitHubIdentity


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def get_app(self, request, provider, client_id=None):
        """Without a GitHub app (SKILLPORT_GITHUB_CLIENT_ID), GitHub's sign-in pages are a 404 saying so."""
        try:
            return super().get_app(request, provider, client_id)
        except SocialApp.DoesNotExist:
            raise ImmediateHttpResponse(render(request, "account/github_not_set_up.html", status=404)) from None

    def pre_social_login(self, request, sociallogin):
        """Refuse anyone outside SKILLPORT_GITHUB_ORGS, and learn the user's teams."""
        token = sociallogin.token.token
        login = sociallogin.account.extra_data.get("login", "")
        allowed = settings.SKILLPORT_GITHUB_ORGS
        try:
            orgs = github.active_orgs(token, allowed)
            teams = [t for t in github.user_teams(token) if not allowed or t.split("/")[0] in orgs]
        except github.GitHubError as exc:
            record(Action.SIGN_IN_FAILED, request=request, outcome=Outcome.ERROR,
                   extra={"github_login": login, "reason": str(exc)})
            raise ImmediateHttpResponse(render(request, "account/github_unavailable.html", status=503)) from None
        if allowed and not orgs:
            record(Action.SIGN_IN_FAILED, request=request, outcome=Outcome.DENIED,
                   extra={"github_login": login, "reason": "not a member of an allowed organisation"})
            raise ImmediateHttpResponse(
                render(request, "account/not_a_member.html", {"login": login, "orgs": allowed}, status=403)
            )
        sociallogin.skillport_membership = {"orgs": orgs, "teams": teams}
        if sociallogin.is_existing:
            _remember(sociallogin.user, sociallogin)

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        _remember(user, sociallogin)
        return user


def _remember(user, sociallogin):
    """Store who the user is on GitHub before the login completes, so the sign-in audit
    event already carries the GitHub id, and every visibility rule has something to match."""
    membership = sociallogin.skillport_membership
    GitHubIdentity.objects.update_or_create(
        user=user,
        defaults={"github_id": int(sociallogin.account.uid), "login": sociallogin.account.extra_data.get("login", ""),
                  "orgs": membership["orgs"], "teams": membership["teams"], "refreshed_at": timezone.now()},
    )


class WithGitHubIdentity:
    """Loads the signed-in user of each request with their GitHub identity, in one query written
    out (rows.py): nearly every page asks what they may see, which reads the identity."""

    def get_user(self, user_id):
        user = rows.user_with_identity(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(WithGitHubIdentity, backends.ModelBackend):
    """Username and password, for the admin's local accounts (demo mode and break-glass)."""


class AccountBackend(WithGitHubIdentity, AuthenticationBackend):
    """allauth's backend, which signs in GitHub users."""

"""Who is calling the API, and what they may do.

Browsers use their session (with CSRF on writes); scripts send an access token from Skillport's
own authorization server: `Authorization: Bearer <token>`, issued for the MCP resource with scope
`skills:read`, plus `skills:write` to change anything.
"""
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from connector.authentication import READ, WRITE
from skillport_site.throttle import SharedThrottle


class BearerTokenAuthentication(BaseAuthentication):
    """DRF's side of connector.authentication: the token the request presents, or a 401 or 403."""

    def authenticate(self, request):
        bearer = getattr(request, "bearer", None)  # None where no middleware ran: `manage.py spectacular`
        if bearer is None or not bearer.presented:
            return None  # no token: the session may still authenticate
        token = bearer.token
        if token is None:
            raise exceptions.AuthenticationFailed("The token is unknown, expired, revoked or issued for another "
                                                  "resource.")
        if READ not in token.scope.split():
            raise exceptions.PermissionDenied(f"The token lacks the {READ} scope.")
        return token.user, token

    def authenticate_header(self, request):
        return f'Bearer scope="{READ}"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents BearerTokenAuthentication."""

    target_class = BearerTokenAuthentication
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": f"An access token from Skillport's authorization server with scope {READ}."}


def scopes(request) -> set[str]:
    """The scopes the caller holds: all of them with a session, the token's with a bearer token."""
    if request.auth is None:
        return {READ, WRITE}
    return set(request.auth.scope.split())


class CanSync(permissions.BasePermission):
    message = "Syncing needs an admin who may change marketplaces (and, with a token, the skills:write scope)."

    def has_permission(self, request, view):
        if request.method not in permissions.SAFE_METHODS and WRITE not in scopes(request):
            return False
        return request.user.has_perm("marketplace.change_marketplace")


class CanViewSyncRuns(permissions.BasePermission):
    message = "Sync runs are for admins."

    def has_permission(self, request, view):
        return request.user.has_perm("marketplace.view_syncrun")


class CanPublish(permissions.BasePermission):
    """Publish targets: reading them needs the admin's view permission; publishing, the change
    permission (and, with a token, the skills:write scope)."""

    message = ("Publish targets are for admins; publishing needs one who may change them (and, with a token, "
               "the skills:write scope).")

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return request.user.has_perm("publishing.view_publishtarget")
        return WRITE in scopes(request) and request.user.has_perm("publishing.change_publishtarget")


# Counted in the cache every worker shares, per client address before sign-in (skillport_site.throttle).
# Rates come from settings when a request is checked, so operators (and tests) can change them.
class UserThrottle(SharedThrottle, UserRateThrottle):
    def get_rate(self):
        return settings.SKILLPORT_API_RATE


class AnonThrottle(SharedThrottle, AnonRateThrottle):
    def get_rate(self):
        return settings.SKILLPORT_API_ANON_RATE

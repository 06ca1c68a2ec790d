"""Audit events for tokens the authorization server issues (the toolkit signals each one)."""
from django.dispatch import receiver
from oauth2_provider.signals import app_authorized

from audit import record
from audit.models import Action


@receiver(app_authorized)
def token_issued(sender, request, token, **kwargs):
    refreshed = request.POST.get("grant_type") == "refresh_token"
    record(Action.TOKEN_REFRESHED if refreshed else Action.TOKEN_ISSUED, request=request, actor=token.user, extra={
        "client_id": token.application.client_id if token.application else "",
        "client_name": token.application.name if token.application else "",
        "scope": token.scope, "expires": token.expires.isoformat(),
    })

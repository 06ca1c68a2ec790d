"""Audit events for tokens the authorization server issues (the toolkit signals each one), and what
a public client is saved with."""
from django.contrib.auth.hashers import make_password
from django.db.models.signals import pre_save
from django.dispatch import receiver
from oauth2_provider.models import get_application_model
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


@receiver(pre_save, sender=get_application_model())
def public_clients_keep_no_secret(sender, instance, **kwargs):
    """A public client never presents a secret, yet the toolkit generates and hashes one for every
    client it saves: for open registration, 0.45 s of CPU per request, anyone's to spend. Store an
    unusable value instead (as Django's set_unusable_password does), never hashed and never matched."""
    if instance._state.adding and instance.client_type == instance.CLIENT_PUBLIC:
        instance.hash_client_secret = False
        instance.client_secret = make_password(None)

"""The connector in the admin: OAuth clients and tokens per user (revocable), consents, trusted hosts, install links."""
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model, get_application_model, get_grant_model, get_id_token_model, get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from audit import record
from audit.admin_records import ListsLightly, RecordAdmin
from audit.models import Action
from marketplace.admin import SKILL_UNREAD

from .models import Consent, InstallLink, TrustedHost

Application, AccessToken, RefreshToken = get_application_model(), get_access_token_model(), get_refresh_token_model()
for model in (Application, AccessToken, RefreshToken, get_grant_model(), get_id_token_model()):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Application)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["__str__", "registration_source", "client_type", "redirect_hosts", "live_tokens", "created"]
    list_filter = ["registration_source", "client_type"]
    search_fields = ["name", "client_id", "redirect_uris"]
    readonly_fields = ["client_id", "registration_source", "created", "updated"]
    fields = ["name", "client_id", "registration_source", "client_type", "authorization_grant_type", "redirect_uris",
              "user", "created", "updated"]
    raw_id_fields = ["user"]
    actions = ["revoke"]
    view_on_site = False  # its page is this one (connector.urls)

    def get_queryset(self, request):
        live = Q(accesstoken__expires__gt=timezone.now()) & ~Q(accesstoken__scope=oauth2_settings.DCR_REGISTRATION_SCOPE)
        return super().get_queryset(request).annotate(live=Count("accesstoken", filter=live))

    @admin.display(description="Redirects to")
    def redirect_hosts(self, client):
        return ", ".join(sorted({uri.split("://", 1)[-1].split("/", 1)[0] for uri in client.redirect_uris.split()}))

    @admin.display(description="Live tokens", ordering="live")
    def live_tokens(self, client):
        return client.live

    @admin.action(description="Revoke the selected clients, with all their tokens")
    def revoke(self, request, queryset):
        for client in queryset:
            record(Action.OAUTH_CLIENT_REVOKED, request=request,
                   extra={"client_id": client.client_id, "client_name": client.name})
            client.delete()  # grants, tokens and consents go with it
        self.message_user(request, f"Revoked {len(queryset)} client(s) and their tokens.", messages.SUCCESS)


class TokenAdmin(RecordAdmin):  # tokens come from the OAuth flow or `mint_token`
    list_display = ["user", "application", "scope", "expires", "created"]
    list_filter = ["application__registration_source"]
    search_fields = ["user__username", "user__github__login", "application__name", "application__client_id"]
    list_select_related = ["user", "application"]
    ordering = ["user__username", "-created"]
    actions = ["revoke"]
    exclude = ["token", "token_checksum"]

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.select_related("user", "application"):
            record(Action.TOKEN_REVOKED, request=request, actor=request.user, extra={
                "owner": token.user.get_username() if token.user else "", "kind": type(token).__name__,
                "client_id": token.application.client_id if token.application else "",
            })
            token.revoke()
        self.message_user(request, f"Revoked {len(queryset)} token(s).", messages.SUCCESS)


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    list_display = [*TokenAdmin.list_display, "bound_to"]

    @admin.display(description="Audience")
    def bound_to(self, token):
        return ", ".join(token.resource or []) or "(none: refused by /mcp)"


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    list_display = ["user", "application", "created", "revoked"]


@admin.register(Consent)
class ConsentAdmin(RecordAdmin):
    list_display = ["user", "application", "redirect_uri", "scope", "created_at"]
    search_fields = ["user__username", "application__name", "redirect_uri"]
    list_select_related = ["user", "application"]


@admin.register(TrustedHost)
class TrustedHostAdmin(admin.ModelAdmin):
    list_display = ["host", "note", "created_at"]
    search_fields = ["host", "note"]


@admin.register(InstallLink)
class InstallLinkAdmin(ListsLightly, RecordAdmin):
    list_display = ["skill", "user", "surface", "client_name", "created_at", "expires_at", "redeemed_at"]
    list_filter = ["surface"]
    search_fields = ["user__username", "skill__slug"]
    list_select_related = ["user", "skill__plugin", "skill__marketplace"]
    list_unread = tuple(f"skill__{field}" for field in SKILL_UNREAD)
